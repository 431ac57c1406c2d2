#!/usr/bin/env bash
# make release: cross-compiles prefect-apply for every platform below and
# writes, into $DIST (default dist/):
#   prefect-apply_<version>_<os>_<arch>.tar.gz   (.zip for windows), the
#       binary alone at the archive's root
#   SHA256SUMS                                   sha256sum's format, one line
#       per archive
# The layout of a GitHub release: action/install.sh downloads
# <base-url>/<version>/<archive> and <base-url>/<version>/SHA256SUMS.
#
# Binaries are static (CGO_ENABLED=0), built with -trimpath and stamped with
# VERSION; archives hold fixed owners and times, so the same commit and Go
# version give the same SHA256SUMS.
#   VERSION=v1.2.3 bash hack/release/build.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${VERSION:?VERSION is required, e.g. VERSION=v1.2.3}"
DIST=${DIST:-dist}
GO=${GO:-go}
PLATFORMS=${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64}
LDFLAGS="-s -w -X github.com/prefect-apply/prefect-apply/internal/cli.Version=${VERSION}"

case $VERSION in
*/* | *' '* | '') echo "VERSION ${VERSION@Q}: no slashes or spaces" >&2; exit 1 ;;
esac

mkdir -p "$DIST"
DIST=$(cd "$DIST" && pwd)
rm -f "$DIST"/prefect-apply_"${VERSION}"_* "$DIST/SHA256SUMS"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

archives=()
for platform in $PLATFORMS; do
	os=${platform%/*} arch=${platform#*/}
	name=prefect-apply_${VERSION}_${os}_${arch}
	exe=prefect-apply
	[ "$os" = windows ] && exe=prefect-apply.exe
	mkdir -p "$work/$name"
	echo "building $os/$arch" >&2
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch "$GO" build -trimpath -ldflags "$LDFLAGS" \
		-o "$work/$name/$exe" ./cmd/prefect-apply
	touch -d @0 "$work/$name/$exe"
	if [ "$os" = windows ]; then
		(cd "$work/$name" && zip -qX "$DIST/$name.zip" "$exe")
		archives+=("$name.zip")
	else
		tar -C "$work/$name" --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - "$exe" |
			gzip -9n > "$DIST/$name.tar.gz"
		archives+=("$name.tar.gz")
	fi
done

(cd "$DIST" && sha256sum "${archives[@]}" > SHA256SUMS)
echo "wrote ${#archives[@]} archives and SHA256SUMS to $DIST" >&2
