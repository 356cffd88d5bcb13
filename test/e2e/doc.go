// Package e2e drives the built understudy-coordinator and understudy-agent
// binaries as separate processes on loopback, only through their CLI, HTTP
// API and DNS, and kills them with SIGKILL. The tests carry the build tag
// e2e: run them with `go test -tags e2e ./test/e2e/...` (make e2e).
package e2e
