# recon: make help lists the targets.
SHELL   := /bin/bash
GO      ?= go
BIN     := bin/recon
ROWS    ?= 1000000
TEXT_SIZES ?= 1000000,10000000
SIM_ROWS ?= 10000000,100000000
SIZES   ?= 100000,1000000,10000000
# LINK: a link per database for the sizes benchmark, as tc writes a rate (root only; empty for none)
LINK    ?= 100mbit

.PHONY: help build demo test test-short test-deps bench vet fmt clean duckdb

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/recon
	$(GO) build -o $(BIN) ./cmd/recon

demo: build ## plant drift in two SQLite databases, reconcile them and show the repair plan (no server needed)
	$(GO) run ./internal/drift/plant -dir testdata/demo -filler 2000
	@./$(BIN) run --config testdata/demo/recon.yaml --out reports --summary; \
	  code=$$?; [ $$code -le 1 ] || exit $$code; \
	  echo "exit code $$code (1: a threshold was breached, as the demo plants drift)"; \
	  run=$$(ls -d reports/2*/ | tail -n 1); run=$${run%/}; echo; \
	  ./$(BIN) apply --config testdata/demo/recon.yaml --run $$run || exit $$?; echo; \
	  echo "open $$run/report.html in a browser, query $$run/exceptions.parquet with DuckDB,"; \
	  echo "and apply the plan with: ./$(BIN) apply --config testdata/demo/recon.yaml --run $$run --execute"

test: vet test-deps duckdb ## run every test against real PostgreSQL, MariaDB and SQLite, Chromium and DuckDB
	RECON_TEST_REQUIRE_DB=1 RECON_TEST_REQUIRE_TOOLS=1 $(GO) test -count=1 -timeout 30m ./...

test-deps: ## install what make test needs when missing (as root, with apt-get), or say what to install
	@tools/test-deps.sh

test-short: ## unit tests only, no database servers
	$(GO) test -short -count=1 ./...

bench: ## measure the read floor, full reconciliations with text keys at $(TEXT_SIZES) rows and of finance and CRM shapes at $(ROWS) rows (PostgreSQL vs MariaDB), rows and checksum modes at $(SIZES) rows (and over a $(LINK) link per database), and the engine at $(SIM_ROWS) generated rows; writes BENCHMARKS.md
	@rm -f bench.out
	set -o pipefail; $(GO) test -run '^$$' -bench '^Benchmark(Run|Parse|KeyEncode|Compare|ComparePair|StreamedJoin|SortedJoin|Spill|Merge|WriteExceptions|Lifecycle)$$' -benchmem -count 1 ./reconcile/ ./reports/ ./internal/state/ | tee -a bench.out
	set -o pipefail; RECON_BENCH_ROWS=$(ROWS) RECON_BENCH_TEXT_SIZES=$(TEXT_SIZES) RECON_BENCH_SIZES=$(SIZES) RECON_BENCH_LINK=$(LINK) $(GO) test -run '^$$' -bench . -benchtime 1x -count 1 -timeout 120m ./internal/benchmark/ | tee -a bench.out
	set -o pipefail; RECON_SIM_ROWS=$(SIM_ROWS) $(GO) test -run '^$$' -bench Scale -benchtime 1x -count 1 -timeout 60m ./reconcile/ | tee -a bench.out
	$(GO) run ./internal/benchmark/benchmd bench.out > BENCHMARKS.md
	@echo "wrote BENCHMARKS.md"

vet: ## go vet and gofmt
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt would change: $$out"; exit 1; }

duckdb: ## install DuckDB (npm) for the tests that read our Parquet with it
	@[ -d tools/duckdb/node_modules/@duckdb ] || npm ci --prefix tools/duckdb --no-audit --no-fund --loglevel=error

clean: ## remove build output and demo databases
	rm -rf bin testdata/demo/*.db
