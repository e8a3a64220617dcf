# The two commands users need are `make run` and `make test`; the rest are their parts.
SHELL := /usr/bin/env bash
GO ?= go
BIN := bin

.PHONY: run test build unit integration verify fmt vet codegen verify-codegen bench clean

## run: build and start the API server on this machine and print how to use it (Ctrl-C stops)
run: build
	hack/run-local.sh

## test: every check CI runs: formatting, vet, generated code, unit and integration tests
test: verify
	$(GO) test ./...

build:
	$(GO) build -o $(BIN)/ ./cmd/...

verify: fmt vet verify-codegen

fmt:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

codegen:
	hack/update-codegen.sh

verify-codegen:
	hack/verify-codegen.sh

## bench: the API server benchmarks (see bench/README.md)
bench:
	bash bench/run.sh

clean:
	rm -rf $(BIN) .local
