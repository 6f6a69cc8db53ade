# Keyhold: the everyday commands. `make test` is the test command of the
# README and of .ci/run; tests start PostgreSQL, Redis, stripe-mock and
# Chromium themselves through internal/testenv (install them with
# `bash .ci/run`, or see internal/testenv/doc.go).

GO ?= go
# Extra flags for go test, e.g. `make test TESTFLAGS='-run TestVerify -v'`.
TESTFLAGS ?=

.PHONY: run build test generate lint clean

# run: start Keyhold on :8080 (SQLite by default)
run:
	$(GO) run ./cmd/keyhold

# build: build bin/keyhold
build:
	$(GO) build -o bin/keyhold ./cmd/keyhold

# test: all tests, with the race detector, never cached
test:
	$(GO) test -race -count=1 $(TESTFLAGS) ./...

# generate: templ components and front-end assets (commit the results)
generate:
	$(GO) tool templ generate
	@if [ ! -d node_modules ]; then echo "npm ci"; npm ci --no-audit --no-fund; fi
	npm run build

# lint: gofmt on the Go files git sees (generated *_templ.go excepted), go vet
lint:
	@unformatted=$$(git ls-files --cached --others --exclude-standard -- '*.go' ':!:*_templ.go' | xargs -r gofmt -l); \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files need gofmt -w:"; echo "$$unformatted"; exit 1; \
	fi
	$(GO) vet ./...

# clean: remove build outputs
clean:
	rm -rf bin
