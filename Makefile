# otel-evidence - build, generate, run and test the collector distribution.
# Every tool is installed by `make tools` at a pinned version into .tools/bin.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go

TOOLS_DIR := $(CURDIR)/.tools
TOOLS_BIN := $(TOOLS_DIR)/bin
STAMPS := $(TOOLS_DIR)/stamps

# Pinned tool versions. One collector release for every collector module.
BUILDER_VERSION       := v0.161.0
TELEMETRYGEN_VERSION  := v0.161.0
VERSITYGW_VERSION     := v1.8.0
GOLANGCI_LINT_VERSION := v2.15.0

BUILDER := $(TOOLS_BIN)/builder
# The tools module is outside go.work, so that mdatagen's own collector
# release pins nothing in the workspace.
MDATAGEN := GOWORK=off $(GO) tool -modfile=$(CURDIR)/internal/tools/go.mod mdatagen

# deploy/: the release builder and the deploy artifacts' tests, a module
# outside go.work like the tools module, so that its requirements
# (go-containerregistry, nfpm, k8s.io/api, kustomize) change no version the
# workspace builds; its targets run it with GOWORK=off.
DEPLOY_DIR := deploy

COMPONENTS := extension/incidentsextension receiver/incidentwebhookreceiver \
	processor/incidentcontextprocessor exporter/evidenceexporter connector/sloconnector
DIST_DIR := cmd/otelcol-evidence
# Every Go module of the repository but the tools module, in dependency
# order; go.work ties them together for development. `.` is the shared
# module (pkg/ and internal/); test/ holds the end-to-end, perf, peer
# benchmark and module-layout tests; test/externaltrigger is a module
# outside this repository's module path, as a platform team's own would be.
MODULES := . $(COMPONENTS) cmd/evidencectl $(DIST_DIR) test test/externaltrigger
# Modules tagged per release (<dir>/vX.Y.Z; the shared module is vX.Y.Z).
RELEASE_MODULES := . $(COMPONENTS) cmd/evidencectl
# Package patterns that name every package of every module, so that one go
# command (in workspace mode) covers them all.
PACKAGES := ./... $(foreach m,$(filter-out .,$(MODULES)),./$(m)/...)
GENERATED := $(DIST_DIR) $(foreach c,$(COMPONENTS),$(c)/internal/metadata $(c)/generated_component_test.go \
	$(c)/generated_package_test.go $(c)/documentation.md) $(foreach m,$(MODULES) internal/tools $(DEPLOY_DIR),$(m)/go.mod $(m)/go.sum)

# The webhook token `make run` and `make demo` give the collector.
OTEL_EVIDENCE_WEBHOOK_TOKEN ?= demo-token
export OTEL_EVIDENCE_WEBHOOK_TOKEN

TEST_TIMEOUT ?= 25m
# make bench: -benchtime and -count of the micro-benchmarks, and the length
# of the sustained-load memory run (the issue's full run is 10m); every
# PERF_* variable of scripts/bench.sh is passed through from the environment.
BENCH_TIME ?= 200x
BENCH_COUNT ?= 3
PERF_SUSTAINED ?= 2m

.PHONY: all
all: build

## tools: install the pinned builder, telemetrygen and versitygw into .tools/bin
.PHONY: tools
tools: $(STAMPS)/builder-$(BUILDER_VERSION) $(STAMPS)/telemetrygen-$(TELEMETRYGEN_VERSION) \
	$(STAMPS)/versitygw-$(VERSITYGW_VERSION)

$(STAMPS)/builder-$(BUILDER_VERSION):
	@mkdir -p $(STAMPS) $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(BUILDER_VERSION)
	@touch $@

$(STAMPS)/telemetrygen-$(TELEMETRYGEN_VERSION):
	@mkdir -p $(STAMPS) $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@$(TELEMETRYGEN_VERSION)
	@touch $@

$(STAMPS)/versitygw-$(VERSITYGW_VERSION):
	@mkdir -p $(STAMPS) $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)
	@touch $@

$(STAMPS)/golangci-lint-$(GOLANGCI_LINT_VERSION):
	@mkdir -p $(STAMPS) $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	@touch $@

## generate: mdatagen for every component, the collector builder (sources and the distribution's go.mod), go mod tidy in every module
.PHONY: generate
generate: $(STAMPS)/builder-$(BUILDER_VERSION)
	@for c in $(COMPONENTS); do echo "mdatagen $$c"; (cd $$c && $(MDATAGEN) metadata.yaml); done
	GOWORK=off $(BUILDER) --config builder-config.yaml --skip-compilation
	gofmt -w $(DIST_DIR)
	@$(MAKE) --no-print-directory tidy

## tidy: go mod tidy in every module, each on its own (GOWORK=off), as a user of that module resolves it
.PHONY: tidy
tidy:
	@for m in $(MODULES) internal/tools $(DEPLOY_DIR); do echo "go mod tidy $$m"; (cd $$m && GOWORK=off $(GO) mod tidy); done

## check-generate: fail when generated code is not current
.PHONY: check-generate
check-generate: generate
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then \
		git status --porcelain -- $(GENERATED); git diff -- $(GENERATED) | head -50; \
		echo "generated code or a go.mod is stale: run 'make generate' and commit the result"; exit 1; fi
	@echo "generated code is current"

## build: compile bin/otelcol-evidence and bin/evidencectl, each from its own module's go.mod
.PHONY: build
build:
	cd $(DIST_DIR) && GOWORK=off $(GO) build -trimpath -o $(CURDIR)/bin/otelcol-evidence .
	cd cmd/evidencectl && GOWORK=off $(GO) build -trimpath -o $(CURDIR)/bin/evidencectl .

## run: the collector on the embedded default config (local directory store)
.PHONY: run
run: build
	@mkdir -p var
	./bin/otelcol-evidence --config config/default.yaml --feature-gates=+extension.healthcheck.useComponentStatus

## demo: build, run on the default config, send telemetry, open an incident, print the bundle
.PHONY: demo
demo: tools build
	./scripts/demo.sh

## vet: go vet on every package of every module
.PHONY: vet
vet:
	$(GO) vet $(PACKAGES)
	cd $(DEPLOY_DIR) && GOWORK=off $(GO) vet ./...

## test: every test (unit, fuzz seeds, end-to-end against the real binary), race detector on
.PHONY: test
test: tools check-generate vet build
	$(GO) test -race -timeout $(TEST_TIMEOUT) -count=1 $(PACKAGES)
	cd $(DEPLOY_DIR) && GOWORK=off OTEL_EVIDENCE_BINARY=$(CURDIR)/bin/otelcol-evidence $(GO) test -race -timeout $(TEST_TIMEOUT) -count=1 $$(GOWORK=off $(GO) list ./... | grep -v /releasetest$$)

## image: the container image for linux/amd64 and linux/arm64 into dist/image: an OCI layout (dist/image/oci) and podman/docker-loadable tarballs
.PHONY: image
image:
	cd $(DEPLOY_DIR) && GOWORK=off $(GO) run ./cmd/release image -root .. -out $(CURDIR)/dist/image

## release: archives (linux/amd64, linux/arm64, darwin/arm64), deb and rpm, the image, CycloneDX SBOMs and sha256sums.txt into dist/release
.PHONY: release
release:
	cd $(DEPLOY_DIR) && GOWORK=off $(GO) run ./cmd/release release -root .. -out $(CURDIR)/dist

## release-check: build the release twice (the second from a copy of the tree with an empty GOCACHE) and require identical checksums, then test the artifacts: the image (rootfs and podman), the deb (dpkg -i, systemd-analyze, ExecStart), the rpm; needs root
.PHONY: release-check
release-check: tools
	cd $(DEPLOY_DIR) && GOWORK=off $(GO) run ./cmd/release check -root .. -out $(CURDIR)/dist
	cd $(DEPLOY_DIR) && GOWORK=off OTEL_EVIDENCE_RELEASE_DIR=$(CURDIR)/dist/release $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -v ./releasetest/

## bench: end-to-end perf runs (test/perf) and Go micro-benchmarks; writes BENCHMARKS.md, raw output in bench.txt and var/bench
.PHONY: bench
bench: tools
	GO="$(GO)" BENCH_TIME="$(BENCH_TIME)" BENCH_COUNT="$(BENCH_COUNT)" PERF_SUSTAINED="$(PERF_SUSTAINED)" ./scripts/bench.sh

## lint: go vet and golangci-lint (pinned), module by module
.PHONY: lint
lint: vet $(STAMPS)/golangci-lint-$(GOLANGCI_LINT_VERSION)
	@for m in $(MODULES); do echo "golangci-lint $$m"; (cd $$m && $(TOOLS_BIN)/golangci-lint run --allow-parallel-runners ./...); done
	@echo "golangci-lint $(DEPLOY_DIR)"; cd $(DEPLOY_DIR) && GOWORK=off $(TOOLS_BIN)/golangci-lint run --allow-parallel-runners ./...

## set-version: name VERSION (vX.Y.Z) in every requirement between our modules, builder-config.yaml and the README (then make generate, commit, make tags)
.PHONY: set-version
set-version:
	@./scripts/release.sh set-version "$(VERSION)"

## tags: create the release tags of VERSION (vX.Y.Z) on HEAD, one per module (<dir>/VERSION, the shared module VERSION); pushes nothing
.PHONY: tags
tags:
	@./scripts/release.sh tags "$(VERSION)" $(RELEASE_MODULES)

## clean: remove build output and local state (not the tools)
.PHONY: clean
clean:
	rm -rf bin var bench.txt dist

.PHONY: help
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed 's/^## //'
