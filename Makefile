# flashgate: two commands are enough on a fresh Debian machine with Go:
#   make run    demo backend + gateway on conf/demo.yaml (no Redis needed)
#   make test   go vet + every test, with a real redis-server (installed if missing)

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN      := bin

.PHONY: all build run test test-short vet fmt bench bench-go bench-wrk fuzz clean redis-deps browser-deps

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/flashgate ./cmd/flashgate
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/demo-backend ./cmd/demo-backend

## run: start the demo backend and the gateway; Ctrl-C stops both.
run: build
	@./scripts/run-demo.sh

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w $$(git ls-files '*.go')

## redis-deps: make sure redis-server exists (installs Debian's package as root).
redis-deps:
	@./scripts/ensure-redis.sh

## browser-deps: make sure Debian's chromium, node and npm exist (installs them
## as root) and playwright-core is installed from e2e/browser/package-lock.json.
browser-deps:
	@./scripts/ensure-browser.sh

## test: vet, then all tests with the race detector, integration and browser
## tests included, then the allocation tests, which the race detector's own
## allocations keep out of that run (they are built with !race).
test: redis-deps browser-deps vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) test -race -count=1 -timeout 15m ./...
	$(GO) test -count=1 -timeout 5m -run 'Allocs?|NoGoroutine' ./...

test-short:
	$(GO) test -count=1 ./...

## fuzz: run every fuzz target briefly (FUZZTIME per target).
FUZZTIME ?= 10s
fuzz:
	@./scripts/fuzz.sh $(FUZZTIME)

## bench: Go benchmarks (allocations per op), then the load harness:
## redis-server, the demo backend, gateways and nginx on loopback, every
## scenario in interleaved rounds, one table, bench/results/bench.{json,svg}.
## BENCH_ARGS passes flags, e.g. BENCH_ARGS="-duration 2s -rounds 1".
BENCH_ARGS ?=
bench: bench-go bench-wrk

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./gateway/ ./bench/ ./static/ ./stock/ ./filters/...

bench-wrk: build
	@./scripts/ensure-bench-tools.sh
	$(GO) run ./bench/harness $(BENCH_ARGS)

clean:
	rm -rf $(BIN)
