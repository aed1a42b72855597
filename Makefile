# pushstart: a Web Push starter kit. `make` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

ADDR ?= :8000
DATA_DIR ?= ./data
export ADDR DATA_DIR

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
GO_SOURCES := $(shell find . -name '*.go' -not -path './e2e/*' -not -path './data*') go.mod go.sum
# The page is built from everything but the native-only server and tools.
WASM_SOURCES := $(filter-out ./server/% ./tools/%,$(GO_SOURCES))
WASM := web/app.wasm
BROTLI_LEVEL ?= 6
BIN := bin/pushstart

.PHONY: help build run test check gotest wasm-check e2e demo bench clean

help: ## List the documented targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-8s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: $(BIN) ## Build web/app.wasm (with .br and .gz) and then bin/pushstart

$(WASM): $(WASM_SOURCES)
	GOOS=js GOARCH=wasm go build -ldflags '$(LDFLAGS)' -o $(WASM) .
	go run ./tools/precompress -brotli-level $(BROTLI_LEVEL) $(WASM)

# The server is built after the wasm so one `make build` leaves both current.
$(BIN): $(WASM) $(GO_SOURCES) sw/app-worker.js
	go build -ldflags '$(LDFLAGS)' -o $(BIN) .

run: build ## Run the kit on ADDR (default :8000) with its data in DATA_DIR (default ./data)
	./$(BIN)

test: check gotest e2e ## Run every test: formatting, vet (native and wasm), Go tests with -race, the Playwright suite

check: ## gofmt, go vet for both targets, and the wasm build
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	GOOS=js GOARCH=wasm go vet . ./app/... ./sw/... ./payload/...
	$(MAKE) --no-print-directory $(WASM)

gotest: ## Go tests with the race detector
	go test -race -count=1 ./...

# Playwright is installed once per change of the lock file, not on every run.
E2E_DEPS := e2e/node_modules/.package-lock.json
$(E2E_DEPS): e2e/package.json e2e/package-lock.json
	cd e2e && npm ci --no-audit --no-fund --prefer-offline
	@touch $@

e2e: build $(E2E_DEPS) ## The end-to-end Playwright suite in real Chromium and Firefox, offline
	cd e2e && npx playwright test

demo: build $(E2E_DEPS) ## Open a visible browser on the kit with the local push service (BROWSER=firefox for Firefox)
	cd e2e && node demo.mjs

bench: ## Fan-out benchmark: the kit's sender beside a bare webpush-go loop
	go test -run '^$$' -bench 10k -benchtime 3x ./server/sender

clean: ## Remove build outputs and test reports (not DATA_DIR)
	rm -rf bin $(WASM) $(WASM).br $(WASM).gz e2e/playwright-report e2e/test-results
