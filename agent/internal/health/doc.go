// Package health runs a host's service health checks and decides each
// check's status: passing, warning or critical.
//
// A check probes one thing on an interval: an HTTP GET (2xx passing, 429
// warning, anything else critical), a TCP connect, or a command (exit 0
// passing, 1 warning, anything else critical, as Nagios plugins and Consul
// do). Every probe is bounded: it ends at the check's timeout, follows at
// most a few redirects, and keeps at most a few kilobytes of output. A
// command runs in its own process group, and the whole group is killed at
// the timeout.
//
// The one idea a reader needs: a probe's result is not the check's status.
// The status moves through [Next], a pure anti-flap function of the
// current [State], the new result and the check's [Thresholds]: a check
// turns critical only after failures_before_critical consecutive critical
// results and passing again only after successes_before_passing
// consecutive passing results, so a service that alternates between good
// and bad answers keeps its status instead of flapping DNS. Every check
// starts critical, as if it had just failed, and is passing only once it
// has met its success threshold: an agent restart never advertises a
// service it has not yet seen answer. [Next] documents how warning results
// are counted.
//
// [Runner] runs a set of named checks, one goroutine each, starting each at
// a random point of its first interval so that checks do not probe in
// lock step. It reports statuses through [Runner.Status] and a coalescing
// [Runner.Changes] channel that never holds up a check. The agent's wiring
// package maps [Status] values to gossip check statuses; the strings are
// the same ("passing", "warning", "critical").
//
// This package imports only the standard library and is imported only by
// the agent's wiring package (agent/hostagent).
package health
