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
## the race detector, the multi-process end-to-end tests, then the status
## page in headless Chromium (skipped when chromium is not installed).
test: lint unit e2e browser

unit:
	$(GO) test -race -count=1 -timeout 20m ./...

e2e:
	$(GO) test -tags e2e -count=1 -timeout 20m ./test/e2e/...

lint: fmt-check vet staticcheck tidy-check

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "not gofmt'd:"; echo "$$out"; exit 1; fi

# Every build tag at once, so that e2e, benchmark, browser and packaging
# code is checked too.
ALL_TAGS := e2e bench browser packaging

vet:
	$(GO) vet ./...
	$(GO) vet -tags '$(ALL_TAGS)' ./...

staticcheck:
	@test -x $(GOBIN)/staticcheck || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(GOBIN)/staticcheck -tags '$(ALL_TAGS)' ./...

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

## package: .deb and .rpm of both daemons into dist/, versioned from git
## (packaging/version.sh maps git describe to a semver; override with
## VERSION=1.2.3). Needs nfpm, installed into GOPATH/bin on first use.
NFPM_VERSION := v2.43.1
PKG_ARCH     ?= $(shell $(GO) env GOARCH)

.PHONY: package test-packaging

package:
	@test -x $(GOBIN)/nfpm || $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)
	rm -rf dist/build && mkdir -p dist/build
	CGO_ENABLED=0 GOOS=linux GOARCH=$(PKG_ARCH) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/build/understudy-agent ./agent
	CGO_ENABLED=0 GOOS=linux GOARCH=$(PKG_ARCH) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/build/understudy-coordinator ./coordinator
	@set -e; pkgver=$$(packaging/version.sh '$(VERSION)'); echo "package version $$pkgver"; \
	epoch=$$(git log -1 --format=%ct 2>/dev/null || date +%s); \
	for d in agent coordinator; do for p in deb rpm; do \
		SOURCE_DATE_EPOCH=$$epoch UNDERSTUDY_PKG_VERSION=$$pkgver UNDERSTUDY_PKG_ARCH=$(PKG_ARCH) \
			$(GOBIN)/nfpm package --config packaging/nfpm-$$d.yaml --packager $$p --target dist/; \
	done; done

## test-packaging: build, inspect, install, upgrade and purge the packages in
## a throwaway Debian root (root, debootstrap and rpm needed; see
## test/packaging/doc.go).
test-packaging:
	$(GO) test -tags packaging -count=1 -timeout 30m -v ./test/packaging/...

## bench-coordinator: the coordinator's figures on three coordinator processes
## on loopback (write latency, time to a new leader after SIGKILL, memory with
## 1,000 hosts × 10 services), printed as markdown tables; about two minutes.
## docs/benchmarks.md records a run.
.PHONY: bench-coordinator
bench-coordinator:
	cd test/bench && $(GO) test -tags bench -count=1 -timeout 10m

## bench-pools: allocations per second and latency (p50, p99) from a pool of
## 1,000 standby hosts on three coordinator processes on loopback, at 16, 32
## and 64 concurrent clients, printed as a markdown table; under a minute.
## docs/benchmarks.md ("Standby pools") records a run.
.PHONY: bench-pools
bench-pools:
	cd test/bench && $(GO) test -tags bench -count=1 -timeout 5m -run 'TestAllocationThroughput' -v

## bench-backup: understudy-agent (encrypted) side by side with restic and
## borg (repokey) on a generated 1 GiB grid-like dataset: initial and second
## backup, bytes added against bytes changed, restore, peak RSS; medians of
## three runs as markdown tables, about ten minutes. Needs restic, borg and
## /usr/bin/time (installed with apt-get when missing). BENCH_BACKUP_FLAGS
## passes options (-size, -reps, -tools, -dir, -keep, -out).
## docs/benchmarks.md records a run.
.PHONY: bench-backup
bench-backup:
	@command -v restic >/dev/null && command -v borg >/dev/null && test -x /usr/bin/time || \
		apt-get install -y restic borgbackup time
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/understudy-agent ./agent
	$(GO) run -tags bench ./test/bench/backup -agent bin/understudy-agent $(BENCH_BACKUP_FLAGS)

## test-browser: the status page in headless Chromium (Debian's chromium
## package): an in-process cluster serves the page, the test checks it
## against the API and refreshes docs/status-page.png. About 20 s.
.PHONY: test-browser browser
browser:
	@if command -v chromium >/dev/null; then \
		$(GO) test -tags browser -count=1 -timeout 5m ./test/ui/...; \
	else echo "chromium not installed: skipping the status page browser test (apt-get install chromium)"; fi
test-browser:
	$(GO) test -tags browser -count=1 -timeout 5m ./test/ui/... -screenshot $(CURDIR)/docs/status-page.png

## bench-dns: dnsperf against one coordinator and against CoreDNS serving the
## same records from a zone file (unbound with local-data when CoreDNS cannot
## be installed), same machine, same run, 10 s per pass, A + SRV + NXDOMAIN:
## QPS and latency (mean, p50, p99) as a markdown table; about a minute.
## Installs dnsperf with apt-get and CoreDNS into GOPATH/bin when missing.
## docs/benchmarks.md ("DNS and failure detection") records a run.
COREDNS_VERSION := v1.11.3
.PHONY: bench-dns
bench-dns:
	@command -v dnsperf >/dev/null || apt-get -o DPkg::Lock::Timeout=600 install -y dnsperf
	@test -x $(GOBIN)/coredns || $(GO) install github.com/coredns/coredns@$(COREDNS_VERSION) || \
		echo "CoreDNS $(COREDNS_VERSION) could not be installed: comparing with unbound (local-data) instead"
	cd test/bench && UNDERSTUDY_BENCH_DNS=1 $(GO) test -tags bench -count=1 -timeout 5m -run 'TestDNSPerf' -v

## bench-detect: time from SIGKILL of a primary host's agent to the leader
## recording the host failed and to every one of three coordinators dropping
## it from DNS, 10 runs per gossip profile (fast, lan), median and max as a
## markdown table; about two minutes.
.PHONY: bench-detect
bench-detect:
	cd test/bench && UNDERSTUDY_BENCH_DNS=1 $(GO) test -tags bench -count=1 -timeout 10m -run 'TestDetection' -v

## bench-failover: service failover on processes (test/rig): SIGKILL of the
## primary host → DNS answers the standby and a login through the front
## succeeds (20 runs, fresh cluster each), and the unavailability of logins
## through the front during planned switchovers; fast profile, printed as
## markdown tables; about five minutes. docs/benchmarks.md records a run.
.PHONY: bench-failover
bench-failover:
	cd test/bench && $(GO) test -tags bench -count=1 -timeout 20m -run '^(TestServiceFailover|TestSwitchoverUnavailability)$$'

## bench-stream: replication lag of continuous protection under a steady
## 5 MB/s write load (p50/p99/max); about 20 seconds.
.PHONY: bench-stream
bench-stream:
	$(GO) test -run '^$$' -bench ReplicationLag -benchtime 500x -count 3 ./agent/internal/stream/

## bench-mirror: mirror throughput on a ~600 MiB grid-like dataset over
## mutual TLS on loopback, initially and after a ~4% mutation, beside
## rsync -a to an rsync daemon (rsync needed), both through a counting
## proxy; prints a markdown table (about two minutes). The Go benchmarks
## BenchmarkSend and BenchmarkSendIncremental cover the same path briefly.
.PHONY: bench-mirror
bench-mirror:
	$(GO) test -tags bench -count=1 -timeout 20m -run TestMirrorVersusRsync -v ./agent/internal/mirror | grep -v 'level='
	$(GO) test -run '^$$' -bench 'BenchmarkSend' -benchtime 5x -benchmem ./agent/internal/mirror
