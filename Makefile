# Everyday targets. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
TOOLS_BIN := $(CURDIR)/.tools/bin

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

# The product module at the root, then the development tools' module in dev/,
# one package at a time there: its tests each run many processes (the local
# API, the emulators, the browser), and on a small machine they starve each
# other when run side by side.
.PHONY: test
test: tools ## run every test, with the race detector (and the largest export test without it)
	$(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -count=1 -run '^TestSlicesWriteWhatOneRunWrites$$' ./shared/export/
	cd dev && $(GO) test -race -count=1 -p 1 -timeout 20m ./...

.PHONY: lint
lint: tools ## gofmt, go vet and staticcheck, in both modules
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS_BIN)/staticcheck ./...
	cd dev && $(GO) vet ./... && $(TOOLS_BIN)/staticcheck ./...

# The deployed functions come from template.yaml alone: each
# AWS::Serverless::Function names its Go package in Metadata.Package, which
# internal/cmd/functions reads. `sam build` runs build-<LogicalId> for each
# (BuildMethod: makefile) with ARTIFACTS_DIR set; `make build` runs the same
# targets into bin/<folder>. Adding a function is a folder under functions/
# and a resource in the template (make route writes both).
FUNCTIONS := $(GO) run ./internal/cmd/functions

.PHONY: build
build: ## build every function for Lambda (linux/arm64) into bin/<function>/bootstrap
	@set -- $$($(FUNCTIONS) list); while [ $$# -gt 0 ]; do id=$$1; dir=$${2##*/}; shift 2; \
	  $(MAKE) -s --no-print-directory build-$$id ARTIFACTS_DIR=$(CURDIR)/bin/$$dir; \
	  printf '  %-14s %s bytes\n' "$$dir" "$$(wc -c < bin/$$dir/bootstrap | tr -d ' ')"; \
	done

# One static, stripped linux/arm64 executable named bootstrap, as provided.al2023 runs it.
build-%:
	$(if $(ARTIFACTS_DIR),,$(error build-$*: ARTIFACTS_DIR is not set; sam build sets it, and make build builds every function into bin/))
	$(eval $*_pkg := $(shell $(FUNCTIONS) package $* 2>&1))
	$(if $(filter ./%,$(firstword $($*_pkg))),,$(error build-$*: $($*_pkg)))
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' \
	  -o $(ARTIFACTS_DIR)/bootstrap $($*_pkg)

# ROUTE, not PATH: PATH is the shell's search path.
.PHONY: route
route: ## add a route: make route NAME=hello ROUTE='GET /hello' (a folder under functions/ and its resource in template.yaml)
	@$(FUNCTIONS) new '$(NAME)' '$(ROUTE)'

# The benchmarks beside their peers, in one run (docs/benchmarks.md says how
# each is measured). Node runs Clerk's JavaScript SDK from bench/node_modules,
# installed from bench/package-lock.json.
.PHONY: bench
bench: tools ## run every benchmark beside its peers; write and print docs/benchmarks.md and .png
	npm ci --prefix bench --no-audit --no-fund --loglevel=error
	cd dev && $(GO) run ./cmd/benchreport -out $(CURDIR)/docs/benchmarks.md

.PHONY: bench-quick
bench-quick: tools ## a short benchmark run into .cache/bench/ (SECTIONS=verify,lambda,devapi,export)
	npm ci --prefix bench --no-audit --no-fund --loglevel=error
	cd dev && $(GO) run ./cmd/benchreport -quick -out $(CURDIR)/.cache/bench/benchmarks.md $(if $(SECTIONS),-sections $(SECTIONS))

.PHONY: dev
dev: ## run the whole API on 127.0.0.1:3000 and the example site on localhost:5173 (docs/local-dev.md)
	@mkdir -p $(TOOLS_BIN)
	@echo "make dev: building the Lambda Runtime Interface Emulator, the local S3 and the local API (the first time takes a few minutes)"
	@cd tools && $(GO) build -o $(TOOLS_BIN)/ github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie \
	  github.com/versity/versitygw/cmd/versitygw
	@cd dev && $(GO) build -o $(CURDIR)/.cache/devapi/devapi ./cmd/devapi
	@.cache/devapi/devapi

# One run of the export through the template's state machine, slice by
# slice, as the schedule starts it in AWS (docs/local-dev.md).
.PHONY: export-local
export-local: ## run the export once through the state machine, locally: each slice, the summary and the file
	@mkdir -p $(TOOLS_BIN)
	@cd tools && $(GO) build -o $(TOOLS_BIN)/ github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie \
	  github.com/versity/versitygw/cmd/versitygw
	@cd dev && $(GO) build -o $(CURDIR)/.cache/devapi/devapi ./cmd/devapi
	@.cache/devapi/devapi export

# USER is also the login name in every shell, so only a USER given on make's
# command line picks the token's user. ADMIN=0 (or false, no, off) is not an admin.
.PHONY: token
token: ## mint a token for make dev: make token [TYPE=session|m2m|api_key|oauth] [USER=user_...] [ADMIN=1]
	@cd dev && $(GO) build -o $(CURDIR)/.cache/devapi/devapi ./cmd/devapi
	@.cache/devapi/devapi token $(if $(TYPE),-type $(TYPE)) $(if $(filter command line,$(origin USER)),-user $(USER)) $(if $(filter-out 0 false no off,$(ADMIN)),-admin)

# ---- AWS: deploy, secret, logs, teardown (docs/deploy.md) ----

# The stack that samconfig.toml names (the deploy section wins over the global one).
STACK_NAME ?= $(or $(shell awk -F'"' '/^\[/ {section=$$0} /^stack_name *=/ {name[section]=$$2} \
  END {print (name["[default.deploy.parameters]"] != "" ? name["[default.deploy.parameters]"] : name["[default.global.parameters]"])}' \
  samconfig.toml 2>/dev/null),clerk-lambda)
# Where put-secret stores the Clerk secret key: the template's ClerkSecretKeyParameterName.
CLERK_SECRET_KEY_PARAMETER ?= /clerk/secret-key
# The file put-secret reads CLERK_SECRET_KEY from when it is not in the environment.
ENV_FILE ?= .env
GUIDED ?=

SAM_INSTALL := install the AWS SAM CLI: https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html
AWS_INSTALL := install the AWS CLI: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html
# require stops a target, before it does anything, when a program it needs is missing.
require = command -v $(1) >/dev/null 2>&1 || { echo "make $@: $(1) is not installed; $(2)" >&2; exit 1; }

.PHONY: deploy
deploy: ## build and deploy the stack with SAM (GUIDED=1 asks for every setting and saves them)
	@$(call require,sam,$(SAM_INSTALL))
	@echo "Deploying stack $(STACK_NAME): sam build, then sam deploy$(if $(GUIDED), --guided (answers are saved to samconfig.toml))"
	sam build
	sam deploy$(if $(filter-out 0 no false,$(GUIDED)), --guided)

# The folder to publish: web/, or a Vite project's dist/. The publisher reads
# the bucket, the distribution, the API base and the publishable key from the
# stack's outputs (cmd/deploy-site says which); DRY_RUN=1 lists what it would
# upload and delete. Built, then run, so its errors stay one line.
SITE_DIR ?= web
DRY_RUN  ?=

.PHONY: deploy-site
deploy-site: ## publish the site to the stack's bucket and CloudFront: make deploy-site [SITE_DIR=dist] [DRY_RUN=1]
	@$(GO) build -o $(CURDIR)/.cache/deploy-site/deploy-site ./cmd/deploy-site
	@.cache/deploy-site/deploy-site -stack $(STACK_NAME) -dir '$(SITE_DIR)' $(if $(filter-out 0 no false,$(DRY_RUN)),-n)

# The key goes to the AWS CLI through a pipe from a shell builtin, so it is in
# no command line (ps), in no make output, and never echoed.
.PHONY: put-secret
put-secret: ## store CLERK_SECRET_KEY (environment or .env) in SSM as a SecureString
	@$(call require,aws,$(AWS_INSTALL))
	@param='$(CLERK_SECRET_KEY_PARAMETER)'; \
	if ! [[ "$$param" =~ ^(/[A-Za-z0-9_.-]+)+$$ ]]; then \
	  echo "make put-secret: CLERK_SECRET_KEY_PARAMETER must be an SSM name starting with /, such as /clerk/secret-key" >&2; exit 1; fi; \
	key="$${CLERK_SECRET_KEY:-}"; from="the environment"; \
	if [ -z "$$key" ] && [ -f '$(ENV_FILE)' ]; then from='$(ENV_FILE)'; \
	  key="$$(sed -n -E 's/^[[:space:]]*(export[[:space:]]+)?CLERK_SECRET_KEY[[:space:]]*=[[:space:]]*//p' '$(ENV_FILE)' \
	    | tail -n 1 | tr -d "\r\"'")"; fi; \
	if [ -z "$$key" ]; then \
	  echo "make put-secret: CLERK_SECRET_KEY is not set: export it or add it to $(ENV_FILE) (Clerk dashboard, API keys)" >&2; exit 1; fi; \
	if ! [[ "$$key" =~ ^sk_(test|live)_[A-Za-z0-9]+$$ ]]; then \
	  echo "make put-secret: CLERK_SECRET_KEY from $$from is not a Clerk secret key (sk_test_... or sk_live_...)" >&2; exit 1; fi; \
	echo "Storing CLERK_SECRET_KEY from $$from as the SecureString $$param in SSM Parameter Store"; \
	version="$$(printf '%s' "$$key" | AWS_PAGER= aws ssm put-parameter --name $(CLERK_SECRET_KEY_PARAMETER) \
	  --type SecureString --overwrite --value file:///dev/stdin --query Version --output text)"; \
	echo "Stored $$param, version $$version"

.PHONY: logs
logs: ## follow one function's logs: make logs FN=MeFunction
	@$(call require,sam,$(SAM_INSTALL))
	@if [ -z "$(FN)" ]; then echo "make logs: name a function, e.g. make logs FN=MeFunction (one of: $$($(FUNCTIONS) list | cut -d' ' -f1 | tr '\n' ' '))" >&2; exit 1; fi
	@echo "Following the logs of $(FN) in stack $(STACK_NAME) (Ctrl-C stops)"
	sam logs --stack-name $(STACK_NAME) --name $(FN) --tail

.PHONY: destroy
destroy: ## delete the deployed stack, after asking (the export bucket is kept)
	@$(call require,sam,$(SAM_INSTALL))
	@echo "About to delete stack $(STACK_NAME): the API, the functions, their logs and roles. The export bucket is kept."
	@read -r -p "Type the stack name ($(STACK_NAME)) to delete it: " answer && [ "$$answer" = "$(STACK_NAME)" ] \
	  || { echo "Nothing deleted." >&2; exit 1; }
	sam delete --stack-name $(STACK_NAME) --no-prompts
