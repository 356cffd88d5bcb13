# Understudy build, test and benchmark entry points.
GO        ?= go
GOBIN     := $(shell $(GO) env GOPATH)/bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
STATICCHECK_VERSION := v0.6.1

.PHONY: all build run test unit e2e lint vet staticcheck fmt-check bench tidy-check clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/understudy-agent ./agent
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/understudy-coordinator ./coordinator

## run: a one-process coordinator with a primary and a standby agent on loopback.
run:
	$(GO) run ./coordinator dev

## test: formatting, vet, staticcheck, unit and in-process cluster tests under
## the race detector, then the multi-process end-to-end tests.
test: lint unit e2e

unit:
	$(GO) test -race -count=1 -timeout 20m ./...

e2e:
	$(GO) test -tags e2e -count=1 -timeout 20m ./test/e2e/...

lint: fmt-check vet staticcheck tidy-check

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "not gofmt'd:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags e2e ./test/...

staticcheck:
	@test -x $(GOBIN)/staticcheck || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(GOBIN)/staticcheck ./...

tidy-check:
	@cp go.mod /tmp/understudy-go.mod.bak && cp go.sum /tmp/understudy-go.sum.bak; \
	$(GO) mod tidy; \
	if ! cmp -s go.mod /tmp/understudy-go.mod.bak || ! cmp -s go.sum /tmp/understudy-go.sum.bak; then \
		echo "go mod tidy changed go.mod/go.sum"; cp /tmp/understudy-go.mod.bak go.mod; cp /tmp/understudy-go.sum.bak go.sum; exit 1; fi

## bench: Go benchmarks of the data path and the coordinator.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./... | tee bench.out

clean:
	rm -rf bin bench.out
