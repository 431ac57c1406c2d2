# The prefect-apply image: the released static binary on distroless, as a
# non-root user. Built from make release's own archive, so the image runs
# the binary SHA256SUMS lists:
#   make release VERSION=v1.2.3
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg VERSION=v1.2.3 \
#     -t registry.example.com/platform/prefect-apply:v1.2.3 .
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION
ARG TARGETARCH
# ADD unpacks a local .tar.gz: the archive holds the binary alone.
ADD dist/prefect-apply_${VERSION}_linux_${TARGETARCH}.tar.gz /usr/local/bin/
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/prefect-apply"]
