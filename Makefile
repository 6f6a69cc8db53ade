# Keyhold: the everyday commands. `make test` is the test command of the
# README and of .ci/run; tests start PostgreSQL, Redis, stripe-mock and
# Chromium themselves through internal/testenv (install them with
# `bash .ci/run`, or see internal/testenv/doc.go).

GO ?= go
# Extra flags for go test, e.g. `make test TESTFLAGS='-run TestVerify -v'`.
TESTFLAGS ?=

.PHONY: run build test fuzz generate api-client lint tools mutate clean

# Linters, pinned here and nowhere else; `make tools` (and .ci/run)
# installs them into GOBIN.
STATICCHECK_VERSION ?= v0.8.2
GOLANGCI_LINT_VERSION ?= v2.15.0
# The mutation tester of `make mutate`, pinned the same way.
GREMLINS_VERSION ?= v0.6.0
GOBIN ?= $(shell $(GO) env GOPATH | cut -d: -f1)/bin

# run: start Keyhold on :8080 (SQLite by default)
run:
	$(GO) run ./cmd/keyhold

# build: build bin/keyhold
build:
	$(GO) build -o bin/keyhold ./cmd/keyhold

# The Go modules of the repository besides the root one: each has its own
# go.mod, so ./... of the root does not reach them, and test and lint run
# in each. sdk/go's tests build and start ./cmd/keyhold themselves.
MODULES ?= sdk/go

# test: all tests, with the race detector, never cached
test:
	$(GO) test -race -count=1 $(TESTFLAGS) ./...
	@for m in $(MODULES); do \
		echo "cd $$m && $(GO) test -race -count=1 $(TESTFLAGS) ./..."; \
		(cd $$m && $(GO) test -race -count=1 $(TESTFLAGS) ./...) || exit 1; \
	done

# fuzz: a short run of every fuzz target (seed corpora also run in `test`).
# FUZZTIME is a count of executions (Nx), not a duration: with a duration,
# go1.26's coordinator can report "context deadline exceeded" as a failure
# when the time runs out while a worker is busy on a loaded machine
# (golang/go#75804, fixed in go1.27); a count has no deadline to race.
FUZZTIME ?= 40000x
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./internal/keys/
	$(GO) test -run='^$$' -fuzz='^FuzzParseRequest$$' -fuzztime=$(FUZZTIME) ./internal/verify/
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeFast$$' -fuzztime=$(FUZZTIME) ./internal/verify/

# generate: templ components and front-end assets (commit the results)
generate:
	$(GO) tool templ generate
	@if [ ! -d node_modules ]; then echo "npm ci"; npm ci --no-audit --no-fund; fi
	npm run build

# api-client: regenerate internal/api/apiclient (oapi-codegen, as a library,
# from the 3.0 document of a test server) after changing an operation; commit
# the result. `make test` fails while it is out of date (TestAPIClientCurrent).
api-client:
	$(GO) test ./internal/server -run '^TestAPIClientCurrent$$' -count=1 -update

# lint: gofmt on the Go files git sees (generated *_templ.go excepted), go
# vet, staticcheck and golangci-lint (.golangci.yml says which linters and
# why), and go.mod/go.sum exactly as `go mod tidy` would leave them; the
# same for each of MODULES.
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
	@for m in $(MODULES); do \
		echo "lint $$m: go mod tidy -diff, go vet, staticcheck, golangci-lint"; \
		(cd $$m && { $(GO) mod tidy -diff || { echo "$$m: go.mod/go.sum are not tidy: run go mod tidy there and commit the result"; exit 1; }; } && \
			$(GO) vet ./... && $(GOBIN)/staticcheck ./... && $(GOBIN)/golangci-lint run ./...) || exit 1; \
	done

# tools: install the pinned linters into GOBIN
tools:
	GOBIN=$(GOBIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	GOBIN=$(GOBIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	GOBIN=$(GOBIN) $(GO) install github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION)

# mutate: mutation testing (gremlins) of the packages where a wrong line
# costs money or safety. Each mutant is one small change to one line (a < for
# a <=, a - for a +, a negated condition); the package's own tests run
# against it and should fail. Per package it prints killed, lived, not
# covered and timed-out mutants, test efficacy (killed / (killed + lived))
# and mutator coverage, writes $(MUTATE_OUT)/PKG.json, and fails below
# MUTATE_EFFICACY %. Settings, and why:
#   --workers 2               the machines we run on have two cores; each
#                             mutant rebuilds and runs a whole test binary
#   --timeout-coefficient 30  a mutant's time limit is 30x the coverage run
#                             (seconds to minutes); tests start PostgreSQL,
#                             Redis and stripe-mock on a shared CPU, and at
#                             10x a machine that got busier after the
#                             coverage run turned killed mutants into false
#                             "timed out". Only mutants that hang use it all:
#                             auth has two (a leaked hashing semaphore), so
#                             auth takes at least 30x its coverage run
#   CI=true                   a missing service fails instead of skipping,
#                             so a mutant cannot "survive" a skipped test
#   GOFLAGS=-count=1          the coverage run sets the time limit; a cached
#                             one takes a second and times every mutant out
# A full run of every file takes too long (verify alone has ~300 mutants at
# several seconds each), so each package is restricted to the files where a
# wrong line costs most: MUTATE_FILES_<pkg>, file names in the package
# directory. Run one package with `make mutate MUTATE_PKGS=keys`, or all of
# its files with `make mutate MUTATE_PKGS=keys MUTATE_FILES_keys=all`.
# internal/auth covers its throttling (service.go, throttle.go) as well as
# tokens and password hashing, now that the login throttling rewrite has
# landed; password.go's two semaphore-leak mutants hang to the 30x limit, so
# leave it out (MUTATE_FILES_auth='service.go throttle.go') for a quick look.
MUTATE_PKGS ?= verify keys billing auth
MUTATE_FILES_verify ?= limits.go state.go verifier.go window.go usage.go
MUTATE_FILES_keys ?= secret.go service.go
MUTATE_FILES_billing ?= webhook.go subscription.go
MUTATE_FILES_auth ?= token.go password.go service.go throttle.go
MUTATE_EFFICACY ?= 85
MUTATE_OUT ?= $(CURDIR)/bin/mutate
mutate:
	@command -v $(GOBIN)/gremlins >/dev/null || { echo "gremlins is not installed: run make tools"; exit 1; }
	@$(GO) version -m $(GOBIN)/gremlins | grep -q 'gremlins[[:space:]]*$(GREMLINS_VERSION)[[:space:]]' || \
		{ echo "gremlins in $(GOBIN) is not $(GREMLINS_VERSION): run make tools"; exit 1; }
	@mkdir -p $(MUTATE_OUT)
	@status=0; for p in $(MUTATE_PKGS); do \
		case $$p in \
		verify) files="$(MUTATE_FILES_verify)";; keys) files="$(MUTATE_FILES_keys)";; \
		billing) files="$(MUTATE_FILES_billing)";; auth) files="$(MUTATE_FILES_auth)";; \
		*) echo "mutate: unknown package $$p"; exit 1;; \
		esac; \
		excl=""; if [ "$$files" != all ]; then \
			for f in $$(cd internal/$$p && ls *.go | grep -v '_test\.go$$'); do \
				case " $$files " in *" $$f "*) ;; *) excl="$$excl -E ^$$f\$$";; esac; \
			done; \
		fi; \
		echo "== internal/$$p ($$files)"; start=$$(date +%s); \
		CI=true GOFLAGS=-count=1 $(GOBIN)/gremlins unleash --workers 2 --timeout-coefficient 30 \
			--threshold-efficacy $(MUTATE_EFFICACY) -o $(MUTATE_OUT)/$$p.json \
			$$excl ./internal/$$p || status=1; \
		echo "== internal/$$p: $$(( $$(date +%s) - start )) s"; \
	done; exit $$status

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
