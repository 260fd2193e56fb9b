# The two commands of the README:
#   go run ./cmd/gen render prod     render prod (prints the manifests)
#   make test                        run every test, with the real tools
SHELL := /bin/bash
GO ?= go
TOOLS := $(shell hack/tools.sh --dir)

.PHONY: test tools e2e sim precheck render check vet fmt bench image verifier fuzz

## test: build the pinned tools (cached), then vet, check out/ and run every
## test: the API-server e2e and the simulated cluster of every environment
## included (the longest packages take about 10 minutes on 2 cores)
test: tools vet
	$(GO) run ./cmd/gen check
	MILVUSGEN_TOOLS=$(TOOLS) $(GO) test -count=1 -timeout 45m ./...
	$(MAKE) fuzz

## fuzz: FuzzLoad for FUZZTIME (default 60s) on one worker; a crasher is
## written to compiler/testdata/fuzz/FuzzLoad (commit it: a regression seed)
FUZZTIME ?= 60s
fuzz:
	$(GO) test ./compiler -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s -parallel 1

## tools: build helm, kustomize, kubeconform, promtool, ko, crane, kwok, etcd
## and the Kubernetes control plane into the cache (first run: about 40
## minutes on 2 cores; then seconds)
tools:
	hack/tools.sh

## e2e: validate every environment against a real kube-apiserver with the CRDs
e2e: tools
	MILVUSGEN_TOOLS=$(TOOLS) $(GO) test -count=1 -v ./e2e

## sim: deploy ENV (default prod) onto a simulated cluster (real control
## plane, kwok nodes), print where every pod runs and run the drills
ENV ?= prod
sim: tools
	MILVUSGEN_TOOLS=$(TOOLS) $(GO) run ./internal/cmd/sim $(ENV)

## precheck: kubeconform -strict on out/ with the schemas e2e cached (no server)
precheck:
	hack/precheck.sh

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

## verifier: build the verifier binary (static) into bin/
verifier:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o bin/verifier ./cmd/verifier

## image: build and push the verifier image with ko (KO_DOCKER_REPO=registry/path),
## tagged with verifier.Version: the tag the verification Job defaults to
VERIFIER_VERSION := $(shell sed -n 's/^const Version = "\(.*\)"$$/\1/p' verifier/version.go)
image: tools
	$(TOOLS)/ko build --bare --tags $(VERIFIER_VERSION) ./cmd/verifier

## bench: the end-to-end render benchmark
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./compiler ./verifier
