# prefect-apply: `make demo` runs the main job end to end, `make test` runs every test.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/prefect-apply/prefect-apply/internal/cli.Version=$(VERSION)
BIN := bin/prefect-apply

.PHONY: build test unit lint tools generate demo fuzz clean release

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/prefect-apply

# Every test: formatting and vet, unit tests, and the end-to-end tests against
# the real servers. The servers are installed and built first, one at a time
# (a cold kube-apiserver build takes about 7 minutes on 2 cores), so that the
# tests, which start them, do not compete with the build.
test: lint tools
	$(GO) test -count=1 -timeout 30m ./...

# The real servers the end-to-end tests and the demo use: a pinned Prefect in
# .cache/prefect-venv, kube-apiserver and etcd in .cache/bin. Cached.
tools:
	bash hack/prefect/install.sh
	bash hack/kube/build.sh

# Unit tests only: no servers.
unit:
	$(GO) test -short ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Regenerate committed files: the JSON Schema, docs/kinds.md (from the table
# of managed kinds, internal/state/kinds.go) and the embedded default job templates.
generate:
	$(GO) run ./hack/genschema
	bash hack/prefect/gen-default-templates.sh

# Fuzz the loader and validator for a while (FUZZTIME=5m make fuzz).
FUZZTIME ?= 60s
fuzz:
	$(GO) test ./internal/config -run '^$$' -fuzz FuzzValidate -fuzztime $(FUZZTIME)

# The long reliability runs (faults, interrupts, races, pipeline fuzzing)
# against the real servers, with their figures; see hack/soak.sh for the
# SOAK_* knobs and README.md "Reliability".
.PHONY: soak
soak: tools
	bash hack/soak.sh

demo: build
	bash hack/demo.sh

# Release archives for linux, darwin and windows on amd64 and arm64, and
# their SHA256SUMS, in $(DIST) (make release VERSION=v1.2.3); the layout
# action.yml installs from. See hack/release/build.sh.
DIST ?= dist
release:
	VERSION=$(VERSION) DIST=$(DIST) GO=$(GO) bash hack/release/build.sh

# Benchmarks against the real servers, next to the Prefect CLI and the Prefect
# Python client, plus the Go benchmarks; see BENCHMARKS.md (BENCH_* knobs in
# bench/run.sh). Starts and stops its own servers; about 20 minutes idle.
.PHONY: bench
bench:
	bash bench/run.sh

clean:
	rm -rf bin .cache dist
