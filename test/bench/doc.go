// Package bench measures the coordinator cluster's figures: write latency
// through the admin API, time to a new leader after the leader process is
// SIGKILLed, and memory with a large catalogue. It starts the built
// understudy-coordinator binary as three processes on 127.0.0.1 (data on the
// local disk, so client, Raft and fsync costs are real) and, for comparison,
// an in-process cluster from [github.com/understudy/understudy/test/harness].
//
// The measurements are test functions under the build tag bench, so that
// `go test ./...` skips them. Run them with `make bench-coordinator`, which
// prints markdown tables; docs/benchmarks.md records a run. Every load loop
// is bounded in count and in time, and the whole run takes a few minutes on
// two cores.
//
// These are measurements, not assertions: a run fails only when the cluster
// does not work (no leader, a write refused), never because it was slow.
package bench
