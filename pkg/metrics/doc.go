// Package metrics is Understudy's Prometheus instrumentation: a registry
// per daemon with the Go runtime and process collectors, helpers that
// create series in the understudy namespace, and the /metrics handler.
//
// It is the only package that imports github.com/prometheus/client_golang;
// the daemons' wiring packages create series here and hand plain functions
// (hooks) to the packages they instrument, so internal packages never see
// Prometheus types. It must not import agent/ or coordinator/.
//
// Two kinds of series exist. Event series ([Counter], [Gauge],
// [Histogram]) are updated where something happens. Sampled series
// ([Registry.GaugeFunc], [Registry.CounterFunc]) are computed from the
// daemon's state at scrape time, which keeps state that already lives
// elsewhere (the catalogue, Raft, gossip) from being copied.
//
// Every series name is documented in docs/metrics.md; a test there checks
// that a running cluster exports exactly the documented series.
package metrics
