# Keyhold: the everyday commands. `make test` is the test command of the
# README and of .ci/run; tests start PostgreSQL, Redis, stripe-mock and
# Chromium themselves through internal/testenv (install them with
# `bash .ci/run`, or see internal/testenv/doc.go).

GO ?= go
# Extra flags for go test, e.g. `make test TESTFLAGS='-run TestVerify -v'`.
TESTFLAGS ?=

.PHONY: run build test fuzz generate lint tools clean

# Linters, pinned here and nowhere else; `make tools` (and .ci/run)
# installs them into GOBIN.
STATICCHECK_VERSION ?= v0.8.2
GOLANGCI_LINT_VERSION ?= v2.15.0
GOBIN ?= $(shell $(GO) env GOPATH | cut -d: -f1)/bin

# run: start Keyhold on :8080 (SQLite by default)
run:
	$(GO) run ./cmd/keyhold

# build: build bin/keyhold
build:
	$(GO) build -o bin/keyhold ./cmd/keyhold

# test: all tests, with the race detector, never cached
test:
	$(GO) test -race -count=1 $(TESTFLAGS) ./...

# fuzz: a short run of every fuzz target (seed corpora also run in `test`)
FUZZTIME ?= 10s
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./internal/keys/
	$(GO) test -run='^$$' -fuzz='^FuzzParseRequest$$' -fuzztime=$(FUZZTIME) ./internal/verify/

# generate: templ components and front-end assets (commit the results)
generate:
	$(GO) tool templ generate
	@if [ ! -d node_modules ]; then echo "npm ci"; npm ci --no-audit --no-fund; fi
	npm run build

# lint: gofmt on the Go files git sees (generated *_templ.go excepted), go
# vet, staticcheck and golangci-lint (.golangci.yml says which linters and
# why), and go.mod/go.sum exactly as `go mod tidy` would leave them.
lint:
	@unformatted=$$(git ls-files --cached --others --exclude-standard -- '*.go' ':!:*_templ.go' | xargs -r gofmt -l); \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files need gofmt -w:"; echo "$$unformatted"; exit 1; \
	fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy and commit the result"; exit 1; }
	$(GO) vet ./...
	@for t in staticcheck golangci-lint; do \
		command -v $(GOBIN)/$$t >/dev/null || { echo "$$t is not installed: run make tools"; exit 1; }; \
	done
	$(GOBIN)/staticcheck ./...
	$(GOBIN)/golangci-lint run ./...

# tools: install the pinned linters into GOBIN
tools:
	GOBIN=$(GOBIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	GOBIN=$(GOBIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

# clean: remove build outputs
clean:
	rm -rf bin

# bench: the benchmark harness (cmd/loadgen). It builds keyhold, seeds a
# fresh SQLite database through the real services, starts the server on
# 127.0.0.1, warms the verify cache, then loads GET /healthz and
# POST /v1/verify: closed loop (-c connections), open loop (-rate req/s,
# latency from each request's intended send time), and reads the server's
# RSS. It prints a plain-text report with the machine's facts. Flags go in
# BENCHFLAGS, e.g. `make bench BENCHFLAGS='-keys 100000 -d 5s'`:
#   -keys N           keys to create and load (1000; 100000 for the memory check)
#   -c N              connections of the closed-loop phases (64)
#   -d DURATION       length of each measured phase (10s)
#   -rate N           requests per second of the open-loop phases (10000; 0 skips them)
#   -workers N        most requests in flight in the open loop (512)
#   -warmup DURATION  unmeasured load before the first phase (1s); -pause between phases (1s)
#   -wait-idle DUR    wait up to DUR before each phase for other processes to go quiet (0: no)
#   -per-account N    keys per account (1000); -seed-workers N key-creating goroutines (4)
#   -keyhold PATH     run this binary instead of building ./cmd/keyhold
#   -json FILE        also write the results as JSON; -keep keeps the temporary folder
#   -mode MODE        single (default: one instance on SQLite), scale (see
#                     bench-scale), or both: single then scale, and the two
#                     side by side: `make bench BENCHFLAGS='-mode both'`
# GOGC, GOMEMLIMIT and GOMAXPROCS in the environment reach the server too.
BENCHFLAGS ?=
.PHONY: bench bench-scale
bench:
	$(GO) run ./cmd/loadgen $(BENCHFLAGS)

# bench-scale: the same phases against two instances sharing a PostgreSQL
# and a Redis that loadgen starts itself on 127.0.0.1 (initdb/postgres from
# PATH or /usr/lib/postgresql/*/bin, redis-server; as root PostgreSQL runs
# as the user postgres) and stops at the end. Connections are shared out
# over both instances; the report adds per-instance figures and Redis
# commands per verification (INFO). Takes the same BENCHFLAGS.
bench-scale:
	$(GO) run ./cmd/loadgen -mode scale $(BENCHFLAGS)
