# Landesmessenger. `make demo` runs the Hessen demo on a local Dendrite stack;
# `make test` runs every check CI runs. See README.md.

SHELL     := /bin/bash
GO        ?= go
TAGS      := goolm
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
BIN       := bin/landesmessenger
# Go test timeout for the whole run, integration tests included.
TEST_TIMEOUT ?= 40m

export GOTOOLCHAIN := local

.PHONY: all build demo test fmt-check vet lint unit fuzz bench bench-go bench-stack bench-provisioning bench-bot bench-retention bench-bridge bench-smoke clean

all: build

build:
	$(GO) build -tags $(TAGS) -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/landesmessenger

# Start the Dendrite stack in .demo and serve the example config in the
# foreground; Ctrl-C stops the service and the stack.
demo: build
	./scripts/demo.sh

# gofmt, vet, unit tests and integration tests against real homeservers
# (Dendrite and Synapse on PostgreSQL, both, every run), then the ten
# slowest tests. A skipped test fails the run: everything, integration
# included, must run.
# Homeservers and Mailpit are installed first, one after the other, so that no
# test's timeout includes a first install. Integration tests run in parallel
# (-parallel 4), bounded by how many homeserver stacks the machine takes at
# once (internal/stackslot, LM_TEST_STACK_SLOTS).
test: fmt-check vet lint build
	./$(BIN) stack install
	set -o pipefail; $(GO) test -tags $(TAGS) -count=1 -parallel 4 -timeout $(TEST_TIMEOUT) -json ./... | ./scripts/gotest-summary.py
	$(MAKE) -s fuzz FUZZTIME=10s

# Fuzz the admin bot's command parser: FUZZTIME in `make test` is short; for
# a longer run: make fuzz FUZZTIME=10m
FUZZTIME ?= 1m
fuzz:
	$(GO) test -tags $(TAGS) -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) -fuzzminimizetime 200x ./bots/command/

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet -tags $(TAGS) ./...

# staticcheck and govulncheck at pinned versions (docs/security.md).
# govulncheck needs its database at vuln.go.dev: where that host cannot be
# reached (an offline build machine) it says so loudly and does not fail
# the run; staticcheck always runs.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOVULNCHECK := golang.org/x/vuln/cmd/govulncheck@v1.10.0
lint:
	GOFLAGS=-tags=$(TAGS) $(GO) run $(STATICCHECK) ./...
	@if $(GO) run $(GOVULNCHECK) -version >/dev/null 2>&1 && curl -fsS -m 10 -o /dev/null https://vuln.go.dev/index/db.json; then \
		$(GO) run $(GOVULNCHECK) -tags $(TAGS) ./...; \
	else \
		echo "WARNING: govulncheck NOT run: vuln.go.dev (its vulnerability database) cannot be reached from here"; \
	fi

# Unit tests only: no homeserver, no database server.
unit:
	$(GO) test -tags $(TAGS) -short -count=1 ./...

# Benchmarks: Go benchmarks, then the stack timings and memory and the
# provisioning benchmarks (planner at scale, converging a fresh stack against
# a baseline, no-op reconcile), the admin bot's round trip and the retention
# sweep against a plain deletion loop and the school bridge's latency, each
# script writing its section of
# docs/benchmarks.md. The whole run takes about two hours on 2 cores (one
# converge of the provisioning benchmark takes 11 to 16 minutes there).
bench: bench-go bench-stack bench-provisioning bench-bot bench-retention bench-bridge

# Every benchmark end to end with its smallest sizes on Dendrite, into a
# scratch file (docs/benchmarks.md stays as it is): a few minutes.
bench-smoke: build
	./scripts/bench-smoke.sh

bench-go:
	$(GO) test -tags $(TAGS) -run '^$$' -bench . -benchmem ./...

bench-stack: build
	./scripts/bench-stack.sh

bench-provisioning: build
	./scripts/bench-provisioning.sh

bench-bot: build
	./scripts/bench-bot.sh

bench-retention: build
	./scripts/bench-retention.sh

bench-bridge: build
	./scripts/bench-bridge.sh

clean:
	rm -rf bin
