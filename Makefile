# cdtsync — `make run` starts a demo server, `make test` runs every test.
GO       ?= go
DATA     ?= ./data
ADDR     ?= :8080
FUZZTIME ?= 5s
# Packages with concurrency run under the race detector: the writer (store), the server,
# the sync engine, auth, the SDK's sync loop and the commands (crash test, e2e). The sync
# convergence properties (TestConvergence*, hundreds of cases) run without it: they are
# 15x slower under the detector; TestConcurrentPushes covers the concurrency.
RACE_PKGS := ./auth/... ./store/... ./server/... ./sync/... ./clientsdk/... ./cmd/...

.PHONY: run build test test-race test-rest test-postgres fuzz fuzz-long crash soak bench lint clean

run: build
	./bin/cdtsync serve --addr $(ADDR) --data $(DATA) --demo

build:
	$(GO) build -o bin/ ./cmd/...

# Everything CI runs: vet, the tests (race detector where there is concurrency), the
# conformance suite on PostgreSQL, and a short run of every fuzz target over its committed
# seed corpus. scripts/pg-test.sh starts a throwaway PostgreSQL for the whole run (unless
# CDTSYNC_TEST_DATABASE_URL names one): the PostgreSQL store's tests and the TestPostgres…
# tests of the real binary run in test-race against it.
test:
	./scripts/pg-test.sh $(MAKE) test-race test-rest test-postgres fuzz

test-race:
	$(GO) vet ./...
	$(GO) test -count=1 -race -timeout 20m -skip '^TestConvergence' $(RACE_PKGS)

test-rest:
	$(GO) test -count=1 -timeout 20m -run '^TestConvergence' ./sync/engine/
	$(GO) test -count=1 -timeout 20m -run '^TestServeDemoEndToEnd$$' ./cmd/cdtsync/
	$(GO) test -count=1 -timeout 20m -run '^TestPushFloodMemoryBounded$$' ./server/
	$(GO) test -count=1 -timeout 20m $$($(GO) list ./... | grep -v -e /auth -e /store/ -e /server -e /sync/ -e /clientsdk -e /cmd/)

# The conformance suite on PostgreSQL (store/storetest): the engine's rule tests and
# convergence properties (PG_CHECKS cases each), the reports' ground truth and the scope
# walk of every route, run on store/postgres. Needs CDTSYNC_TEST_DATABASE_URL: run it as
# ./scripts/pg-test.sh make test-postgres (make test does).
PG_CHECKS ?= 150
test-postgres:
	CDTSYNC_TEST_STORE=postgres $(GO) test -count=1 -race -timeout 20m -skip '^TestConvergence|^TestPushStorageFull$$' ./sync/engine/
	CDTSYNC_TEST_STORE=postgres $(GO) test -count=1 -timeout 20m -run '^TestConvergence' ./sync/engine/ -rapid.checks=$(PG_CHECKS)
	CDTSYNC_TEST_STORE=postgres $(GO) test -count=1 -race -timeout 20m -run '^TestReportsMatchModel$$' ./store/sqlite/
	CDTSYNC_TEST_STORE=postgres $(GO) test -count=1 -race -timeout 20m -run '^TestEveryRouteIsScoped$$' ./server/
	# Alone: it fills the lock table that every database of the cluster shares.
	$(GO) test -count=1 -timeout 5m -tags locktable -run '^TestLockTableFull$$' ./store/postgres/

# Every fuzz target (func FuzzXxx in a _test.go file) for FUZZTIME each (scripts/fuzz.sh:
# it also tells Go 1.26's fuzz-deadline race, go.dev/issue/75804, from a failing input).
fuzz:
	GO=$(GO) ./scripts/fuzz.sh $(FUZZTIME)

fuzz-long:
	$(MAKE) fuzz FUZZTIME=5m

# More kill -9 cycles than make test runs.
crash:
	CDTSYNC_CRASH_CYCLES=50 $(GO) test -count=1 -run TestCrashDurability -v -timeout 60m ./cmd/cdtsync/

# Sustained pushes against the real server with kill -9 every 20–90 s, for SOAK (not in
# make test): ops acknowledged, restarts, losses (must be 0) and RSS over time, written to
# .artifacts/soak-report.txt.
SOAK ?= 30m
soak:
	mkdir -p .artifacts
	CDTSYNC_SOAK=$(SOAK) CDTSYNC_SOAK_REPORT=$(CURDIR)/.artifacts/soak-report.txt $(GO) test -count=1 -run '^TestSoak$$' -v -timeout 3h ./cmd/cdtsync/

lint:
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# The Go benchmarks, then a real server on 127.0.0.1 measured by cdtload against the raw
# SQLite baseline in the same run (scripts/bench.sh; its variables are listed there).
bench: build
	GO=$(GO) ./scripts/bench.sh

clean:
	rm -rf bin
