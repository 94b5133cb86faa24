# Everyday targets. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
TOOLS_BIN := $(CURDIR)/.tools/bin
FUNCTIONS := $(notdir $(wildcard functions/*))

# Programs used only to develop and test, pinned in tools/go.mod and built once
# into .tools/bin (the S3 server's first build takes minutes; later ones are cached).
TOOL_PKGS := github.com/versity/versitygw/cmd/versitygw \
             github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie \
             honnef.co/go/tools/cmd/staticcheck \
             golang.org/x/perf/cmd/benchstat

export VERSITYGW_BIN := $(TOOLS_BIN)/versitygw
export RIE_BIN       := $(TOOLS_BIN)/aws-lambda-rie

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

.PHONY: tools
tools: ## build the pinned developer tools into .tools/bin
	@mkdir -p $(TOOLS_BIN)
	cd tools && $(GO) build -o $(TOOLS_BIN)/ $(TOOL_PKGS)

.PHONY: test
test: tools ## run every test, with the race detector
	$(GO) test -race -count=1 -timeout 20m ./...

.PHONY: lint
lint: tools ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS_BIN)/staticcheck ./...

.PHONY: build
build: ## build every function for Lambda (linux/arm64) into bin/<function>/bootstrap
	@for fn in $(FUNCTIONS); do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' \
	    -o bin/$$fn/bootstrap ./functions/$$fn; \
	  printf '  %-14s %s bytes\n' $$fn "$$(stat -c %s bin/$$fn/bootstrap)"; \
	done

.PHONY: bench
bench: ## run the benchmarks
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./shared/clerkauth/ ./functions/authorizer/

.PHONY: dev
dev: ## run the whole API locally (not yet: see the README)
	@echo "make dev: the local API is not built yet"
