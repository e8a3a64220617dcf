# The two commands users need are `make run` and `make test`; the rest are their parts.
SHELL := /usr/bin/env bash
GO ?= go
BIN := bin

.PHONY: run up down test build tools deps guest verify fmt vet codegen verify-codegen bench clean

## run: build and start the local stack in the foreground and print how to use it (Ctrl-C stops)
run: deps build guest
	$(BIN)/localstack run

## up / down: the same stack in the background; up returns once it is ready
up: build guest
	$(BIN)/localstack up

down:
	@if [ -x $(BIN)/localstack ]; then $(BIN)/localstack down; fi

## test: every check CI runs: formatting, vet, generated code, unit, integration and
## end-to-end tests (the e2e tests start the local stack from bin/ themselves)
test: deps verify build guest
	# -count=1: the e2e tests run binaries from bin/, which the test cache does not track.
	E2E_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 ./...

build: tools
	$(GO) build -o $(BIN)/ ./cmd/... ./hack/localstack

## deps: Debian packages the tests and the stack use (qemu-utils, genisoimage, xz, curl)
deps:
	hack/install-deps.sh

## guest: the small test guest (bin/guest/guest.qcow2 and guest.iso), from Debian packages
guest: deps
	hack/guest/build.sh

## tools: kube-apiserver and etcd from source into bin/ (once; reused while unchanged)
tools:
	hack/build-tools.sh

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
