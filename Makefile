# pushstart: a Web Push starter kit. `make` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

ADDR ?= :8000
DATA_DIR ?= ./data
export ADDR DATA_DIR

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
GO_SOURCES := $(shell find . -name '*.go' -not -path './e2e/*' -not -path './data*') go.mod go.sum
# The page is built from everything but the native-only server, local push
# service, test helpers and tools.
WASM_SOURCES := $(filter-out ./server/% ./localpush/% ./internal/% ./tools/%,$(GO_SOURCES))
WASM := web/app.wasm
# Brotli quality of app.wasm.br: empty for the best the encoder does in
# seconds (11 with Debian's brotli command, 6 with the pure-Go fallback).
BROTLI_LEVEL ?=
BIN := bin/pushstart
# The page's files that go into the binary beside app.wasm.
WEB_FILES := $(filter-out $(WASM)%,$(wildcard web/*))

# The Debian packages the tests need beyond Go, make and Node.js, installed
# with --no-install-recommends: gcc for -race, the two browsers, libnotify4
# (Firefox hands notifications to the desktop only through it, loaded at run
# time: firefox-esr merely recommends it), dbus for the click spec's private
# notification server, brotli for the smallest app.wasm.br, a font, and
# postgresql for the tests of the PostgreSQL store: tools/testpg starts a
# throwaway server from its binaries (the cluster the package sets up is not
# used). The README and .ci/run quote this list; `make check` fails if they
# differ.
DEB_PACKAGES := gcc libc6-dev chromium firefox-esr libnotify4 dbus brotli fonts-dejavu-core postgresql

.PHONY: help deps build run test check gotest fuzz fuzzcheck browsertest pushtest pushtest-test e2e example screenshots demo bench clean

help: ## List the documented targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deps: ## Install the Debian packages the tests need (DEB_PACKAGES) that are missing, with apt-get
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -qx 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "all of DEB_PACKAGES are installed"; exit 0; fi; \
	sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	echo "installing:" $$missing; \
	$$sudo apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing

build: $(BIN) ## Build web/app.wasm (with .br and .gz) and then bin/pushstart, which holds the whole page

$(WASM): $(WASM_SOURCES)
	GOOS=js GOARCH=wasm go build -ldflags '$(LDFLAGS)' -o $(WASM) .
	go run ./tools/precompress $(if $(BROTLI_LEVEL),-brotli-level $(BROTLI_LEVEL)) $(WASM)

# The server is built after the wasm, which it embeds with the rest of web/,
# so one `make build` leaves both current.
$(BIN): $(WASM) $(WEB_FILES) $(GO_SOURCES) sw/app-worker.js
	go build -ldflags '$(LDFLAGS)' -o $(BIN) .

run: build ## Run the kit on ADDR (default :8000) with its data in DATA_DIR (default ./data)
	./$(BIN)

test: check gotest fuzzcheck browsertest pushtest-test e2e example ## Run every test: formatting, vet (native and wasm), Go tests with -race, a short run of every fuzz target, the local push service with real browsers, the pushtest module's own tests, the Playwright suite, the example app

check: ## gofmt, go vet for both targets, the README's package list, the wasm build, and the pushtest module's build (tsc, strict)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi
	@for f in README.md .ci/run; do grep -qF 'apt-get install --no-install-recommends $(DEB_PACKAGES)' $$f || \
	  { echo "$$f must quote the Makefile's DEB_PACKAGES: apt-get install --no-install-recommends $(DEB_PACKAGES)"; exit 1; }; done
	go vet ./...
	GOOS=js GOARCH=wasm go vet . ./app/... ./sw/... ./push/... ./api/...
	$(MAKE) --no-print-directory $(WASM)
	$(MAKE) --no-print-directory $(PUSHTEST_DIST)

gotest: ## Go tests with the race detector
	go test -race -count=1 ./...

# Every fuzz target, as package:FuzzName: the parsers of what browsers and
# API clients send. `go test ./...` runs their seed corpora (testdata/fuzz/);
# these run the fuzzer itself, one target at a time (go test -fuzz takes one).
# tools/fuzzrun runs each: minimizing an input found interesting may take no
# longer than 10 s (on a large one the default minute stalls every worker),
# and a run that hit Go's -fuzztime race (go.dev/issue/75804) runs again.
FUZZ_TARGETS := \
	./server:FuzzSubscriptionRequest ./server:FuzzNotificationRequest ./server:FuzzEndpointAllowlist \
	./push:FuzzNotification ./push:FuzzIsSameOriginPath \
	./localpush:FuzzMozillaMessages \
	./localpush/gcm:FuzzMCSStream ./localpush/gcm:FuzzMCSMessage ./localpush/gcm:FuzzCheckin ./localpush/gcm:FuzzRegister
FUZZTIME ?= 1m
FUZZCHECKTIME ?= 2s

fuzz: ## Run every fuzz target for FUZZTIME each (default 1m), one after another; failing inputs land in testdata/fuzz/
	@set -e; for t in $(FUZZ_TARGETS); do \
	  echo "== $${t#*:} ($${t%%:*}) for $(FUZZTIME)"; \
	  tools/fuzzrun $${t%%:*} $${t#*:} $(FUZZTIME); \
	done

fuzzcheck: ## A short run of every fuzz target, FUZZCHECKTIME each (default 2s)
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZCHECKTIME)

# One package at a time: each starts real browsers, which the 2-core
# machines this runs on cannot also share with other tests.
browsertest: ## The local push service's protocol tests against real Chromium and Firefox (restart, reconnect, queued messages)
	PUSHSTART_BROWSER_TEST=1 go test -race -count=1 -p 1 -run 'TestReal|TestChromium' ./localpush/...

# The Playwright helper module @pushstart/pushtest, built into pushtest/dist
# once per change of its sources or lock file. e2e/ (and examples/) depend
# on it as file:../pushtest, a link to the folder, so a rebuilt dist is seen
# without installing them again. Its scripts are not run by npm ci: the
# build below is the one compilation (and type check).
PUSHTEST_DIST := pushtest/dist/index.js
$(PUSHTEST_DIST): pushtest/package.json pushtest/package-lock.json pushtest/tsconfig.json $(wildcard pushtest/src/*.ts)
	cd pushtest && npm ci --prefer-offline --no-audit --no-fund --ignore-scripts && npm run build
	@touch $@

pushtest: $(PUSHTEST_DIST) ## Build the Playwright helper module @pushstart/pushtest (pushtest/dist)

pushtest-test: build $(PUSHTEST_DIST) ## The pushtest module's PushService against the real `pushstart push-service`
	cd pushtest && PUSHSTART_BIN=$(CURDIR)/$(BIN) npm test

# Playwright is installed once per change of the lock file, not on every run.
E2E_DEPS := e2e/node_modules/.package-lock.json
$(E2E_DEPS): e2e/package.json e2e/package-lock.json | $(PUSHTEST_DIST)
	cd e2e && npm ci --no-audit --no-fund --prefer-offline
	@touch $@

e2e: build $(E2E_DEPS) $(PUSHTEST_DIST) ## The end-to-end Playwright suite in real Chromium and Firefox, offline
	cd e2e && npx playwright test

# An app that is not the kit (Node.js, web-push) tested with the module
# through the standalone push service: proof that both work for any app.
EXAMPLE_DIR := examples/node-web-push
EXAMPLE_DEPS := $(EXAMPLE_DIR)/node_modules/.package-lock.json
$(EXAMPLE_DEPS): $(EXAMPLE_DIR)/package.json $(EXAMPLE_DIR)/package-lock.json | $(PUSHTEST_DIST)
	cd $(EXAMPLE_DIR) && npm ci --no-audit --no-fund --prefer-offline --ignore-scripts
	@touch $@

example: build $(EXAMPLE_DEPS) $(PUSHTEST_DIST) ## The example app (examples/node-web-push: Node.js and web-push) in real Chromium and Firefox, through `pushstart push-service` and @pushstart/pushtest
	cd $(EXAMPLE_DIR) && npx playwright test

screenshots: build $(E2E_DEPS) $(PUSHTEST_DIST) ## Refresh the README's screenshots (docs/screenshots/): the admin console's spec in Chromium, the Flow panel's in both browsers
	cd e2e && E2E_SCREENSHOTS=1 E2E_BROWSERS=chromium npx playwright test tests/12-admin.spec.ts
	cd e2e && E2E_SCREENSHOTS=1 npx playwright test tests/13-flow.spec.ts -g 'a test send, followed'

demo: build $(E2E_DEPS) $(PUSHTEST_DIST) ## Open a visible browser on the kit with the local push service (BROWSER=firefox for Firefox)
	cd e2e && node demo.mjs

bench: ## Fan-out benchmarks, each beside a bare webpush-go loop: the delivery engine (10,000 and 100,000 subscriptions; PostgreSQL too with PUSHSTART_TEST_DATABASE_URL), then the sender alone
	go test -run '^$$' -bench Fanout -benchtime 1x -timeout 30m ./server/delivery
	go test -run '^$$' -bench 10k -benchtime 3x ./server/sender

clean: ## Remove build outputs and test reports (not DATA_DIR)
	rm -rf bin $(WASM) $(WASM).br $(WASM).gz $(WASM).sum e2e/playwright-report e2e/test-results pushtest/dist \
	  $(EXAMPLE_DIR)/playwright-report $(EXAMPLE_DIR)/test-results
