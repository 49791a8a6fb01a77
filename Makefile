# taskmodel — make targets. A fresh machine needs only Go (and gcc for -race).
#
#   make run        the main job: taskmodel serve on 127.0.0.1:8080 over the embedded SQLite
#                   file, anonymous access from this machine, demo handlers for every model
#                   (ARGS=... adds serve flags)
#   make test       vet and race-test the three modules (the main one, tools/ and bench/)
#   make install    go install ./cmd/taskmodel (into GOBIN, or GOPATH/bin)
#   make gen        regenerate gen/, sqlc.yaml and the Python client's models
#                   (clients/python/taskmodel/models) from schema/ with taskgen and sqlc, and
#                   the examples' generated code (go generate ./examples/...)
#   make check-gen  regenerate into the tree; fail on any difference, orphans included
#   make bench      the generated contracts' benchmarks
#   make bench-compare  taskmodel and River side by side (bench/, a module of its own): a
#                   private PostgreSQL server and SQLite files, rounds alternating, one
#                   Markdown table (about 20 minutes; BENCH_QUICK=1: under 3)
#   make test-bench vet bench/ and race-test its unit tests (part of make test; BENCH_TEST=1
#                   adds a small comparison)
#   make fuzz       every parser's fuzz target (FUZZTIME each)
#   make screenshots  rewrite docs/dashboard-*.png from the dashboard's browser test (needs chromium)

GO       ?= go
FUZZTIME ?= 60s

.PHONY: all run install test test-main test-tools test-bench gen check-gen bench bench-compare fuzz screenshots

all: test

run:
	$(GO) run ./cmd/taskmodel serve --allow-anonymous --demo-workers $(ARGS)

install:
	$(GO) install ./cmd/taskmodel

test: test-main test-tools test-bench

# -timeout: the end-to-end packages (cmd/taskmodel: serve, workers in
# Python and shell, a killed worker's lease running out) take minutes
# under -race on two cores, near go test's default of 10.
test-main:
	$(GO) vet ./...
	$(GO) test -race -timeout 25m ./...

test-tools:
	cd tools && $(GO) vet ./...
	cd tools && $(GO) test -race ./...

# taskgen writes the Go packages, the SQL schema and queries of every model and
# sqlc.yaml; sqlc (pinned by tools/go.mod's tool directive) compiles the queries.
# examples/service generates its own spec's code the same way, by go generate.
GENERATED = gen sqlc.yaml examples/service/gen examples/service/sqlc.yaml clients/python/taskmodel/models

gen:
	cd tools && $(GO) run ./taskgen -spec ../schema -out ../gen -sqlc ../sqlc.yaml -python ../clients/python/taskmodel/models
	cd tools && $(GO) tool sqlc generate -f ../sqlc.yaml
	cd tools && $(GO) tool sqlc vet -f ../sqlc.yaml
	$(GO) generate ./examples/...

# Regenerates into the working tree, then asks git whether anything generated
# (GENERATED) changed, appeared or disappeared. On a clean clone (CI) any output means the
# committed code is stale; locally, commit the regenerated files first.
check-gen: gen
	@changes="$$(git status --porcelain --untracked-files=all -- $(GENERATED))"; \
	if [ -n "$$changes" ]; then \
		echo "check-gen: generated code is not what taskgen and sqlc generate from the specs (run make gen and commit):"; \
		echo "$$changes"; \
		git --no-pager diff --stat -- $(GENERATED); \
		exit 1; \
	fi; \
	echo "check-gen: gen/ and examples/service/gen are up to date"

# The browser test of the dashboard, on SQLite, saving its screenshots into docs/.
screenshots:
	TASKMODEL_SCREENSHOTS=1 $(GO) test -count=1 -run 'TestBrowser/sqlite|TestPipelinesBrowser' ./server/dashboard/

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./schema/

# bench/ is a module of its own (River is its dependency, never the main
# module's); go test ./... of the main module does not enter it.
bench-compare:
	cd bench && $(GO) run . $(ARGS)

test-bench:
	cd bench && $(GO) vet ./...
	cd bench && $(GO) test -race ./...

fuzz:
	cd tools && $(GO) test ./taskgen/internal/spec -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./validation -run '^$$' -fuzz FuzzDecodeStrict -fuzztime $(FUZZTIME)
	$(GO) test ./tasktype -run '^$$' -fuzz FuzzMigrationParts -fuzztime $(FUZZTIME)
	$(GO) test ./config -run '^$$' -fuzz FuzzExpand -fuzztime $(FUZZTIME)
	$(GO) test ./config -run '^$$' -fuzz FuzzParseFile -fuzztime $(FUZZTIME)
	$(GO) test ./sdk/pipeline/regfile -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./blob -run '^$$' -fuzz FuzzValidateKey -fuzztime $(FUZZTIME)
	$(GO) test ./blob/local -run '^$$' -fuzz FuzzParseGrant -fuzztime $(FUZZTIME)
	$(GO) test ./blob/local -run '^$$' -fuzz FuzzHandler -fuzztime $(FUZZTIME)
	$(GO) test ./auth -run '^$$' -fuzz FuzzParseSecret -fuzztime $(FUZZTIME)
	$(GO) test ./server -run '^$$' -fuzz FuzzListAndCreate -fuzztime $(FUZZTIME)
	$(GO) test ./server -run '^$$' -fuzz FuzzParseLease -fuzztime $(FUZZTIME)
	$(GO) test ./server -run '^$$' -fuzz FuzzPipelineRoutes -fuzztime $(FUZZTIME)
	$(GO) test ./server -run '^$$' -fuzz FuzzMySQLSQL -fuzztime $(FUZZTIME)
	$(GO) test ./server/dashboard -run '^$$' -fuzz FuzzMarkdown -fuzztime $(FUZZTIME)
	$(GO) test ./tracing -run '^$$' -fuzz FuzzContinue -fuzztime $(FUZZTIME)
	$(GO) test ./backends/mysql -run '^$$' -fuzz FuzzSplitStatements -fuzztime $(FUZZTIME)
	$(GO) test ./backends/sqltable -run '^$$' -fuzz FuzzCompile -fuzztime $(FUZZTIME)
	$(GO) test ./backends/sqltable -run '^$$' -fuzz FuzzParseStatements -fuzztime $(FUZZTIME)
