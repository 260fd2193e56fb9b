# The two commands of the README:
#   go run ./cmd/gen render prod     render prod (prints the manifests)
#   make test                        run every test, with the real tools
SHELL := /bin/bash
GO ?= go
TOOLS := $(shell hack/tools.sh --dir)

.PHONY: test tools render check vet fmt bench

## test: install helm and kustomize (cached), then vet, check out/ and run all tests
test: tools vet
	$(GO) run ./cmd/gen check
	MILVUSGEN_TOOLS=$(TOOLS) $(GO) test -count=1 ./...

## tools: build the pinned helm and kustomize into the cache (first run: minutes)
tools:
	hack/tools.sh

## render: re-render every environment into out/ (commit the result)
render:
	$(GO) run ./cmd/gen render --all -o out

## check: fail when out/ does not match the specs
check:
	$(GO) run ./cmd/gen check

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

## bench: the end-to-end render benchmark
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./compiler
