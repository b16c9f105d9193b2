# Zhiku: `make run` sets everything up and serves a demo; `make test` sets everything up and
# runs every test. Both work on a fresh Debian machine (they install what is missing).
SHELL := /bin/bash
export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/zhiku?sslmode=disable
export TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
GO ?= go
BIN := bin/zhiku

.PHONY: all build db run test test-citus lint bench bench-scale eval fuzz soak clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/zhiku

## db: PostgreSQL running, pgvector available, the DATABASE_URL database created (idempotent)
db:
	@bash scripts/db.sh

## run: db + migrate + demo knowledge base + serve on :8080 with a printed admin key
run: db build
	@bash scripts/run.sh

## lint: formatting, vet and the dependency fence (internal/archtest)
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

## test: db + lint + every test against real PostgreSQL
test: db lint
	@bash scripts/browser.sh
	@bash scripts/drop-test-dbs.sh
	$(GO) test -count=1 -timeout 12m ./...

## test-citus: Zhiku on Citus, end to end (not part of `make test`; docs/citus.md): builds Citus 13.2.2
## from ../shared/vendor once, starts a coordinator and two workers on ports 9700-9702, migrates in
## Citus mode, ingests, checks routing (EXPLAIN), results against a single node and a worker
## restart; prints `citus ok` last
test-citus: db
	@bash scripts/citus.sh

## bench: Go benchmarks (parsing, chunking, embedding, ingestion, curated matching), retrieval
## latency, QPS, HNSW build and recall at 10k and 100k generated chunks, and the answer API's
## throughput over HTTP (curated, cached, extractive), each printing its figures
# Chunk counts of the generated retrieval benchmark (make bench BENCH_SIZES=10000 for a quick run).
BENCH_SIZES ?= 10000,100000

bench: db build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(BIN) migrate
	$(BIN) bench retrieval --sizes $(BENCH_SIZES) \
	  $(if $(wildcard ../shared/devsets/lcqmc_zh/corpus.jsonl),--devset ../shared/devsets/lcqmc_zh)
	$(BIN) bench answer --docs 10000 --duration 10s

## bench-scale: one knowledge base of SCALE_CHUNKS generated chunks (default 1M: about half an
## hour and 25 GB of disk; not part of make test): load and HNSW build time, table and index
## sizes, PostgreSQL memory, search p50/p99 and QPS per mode, HNSW recall@10 (filtered, with and
## without iterative scans, halfvec), answer p99 with and without a concurrent bulk import
SCALE_CHUNKS ?= 1000000

bench-scale: db build
	$(BIN) migrate
	$(BIN) bench scale --chunks $(SCALE_CHUNKS)

## eval: retrieval quality (text, vector, hybrid, BM25) on every dev set in ../shared/devsets,
## loading each into a knowledge base of its name once (DEVSETS=dir for others)
eval: build
	@bash scripts/eval.sh

## fuzz: every fuzz target (parsers, tabular, chunker, PII masker, records, filters, tsquery builder, request
## decoders, answer text functions) for FUZZTIME each, printing execs per target. The seed
## corpora (testdata/fuzz) also run as ordinary tests in `go test ./...`. ZHIKU_FUZZ_SLOW=2s makes
## the document parsers' targets fail on any input that takes longer to parse (to find inputs
## that run to the parse deadline). Go's fuzzer counts a worker's execs when it reports back, so
## a short FUZZTIME can print far fewer execs than ran.
FUZZTIME ?= 20s

fuzz:
	@FUZZTIME=$(FUZZTIME) GO=$(GO) bash scripts/fuzz.sh

## soak: mixed traffic (answers, searches, FAQ edits, uploads) against a `zhiku serve` child on
## loopback for SOAK_DURATION at SOAK_RATE requests/s, printing per minute the errors, p50/p99,
## the server's RSS and goroutines and PostgreSQL connections; exit 1 on any failed request
SOAK_DURATION ?= 10m
SOAK_RATE ?= 100

soak: db build
	$(BIN) bench soak --duration $(SOAK_DURATION) --rate $(SOAK_RATE)

clean:
	rm -rf bin
	@bash scripts/drop-test-dbs.sh
