// Package alert raises the alerts of data protection: a dataset that missed
// its objective (no successful snapshot, mirror, archive copy or drill
// within its RPO or schedule, or replication lag above target) and a job
// that failed (a backup, mirror, archive copy, prune or restore drill).
//
// An [Alerter] does three things with every [Alert], in this order: it logs
// it at error level (an operator must act), calls the optional counter hook
// (the agent's metrics count alerts by kind and job), and, when a webhook URL
// is configured, POSTs the alert as JSON with a bounded per-attempt timeout
// and a bounded number of retries. Delivery is synchronous so that callers
// (the agent's scheduler) decide whether to run it in the background.
//
// Deciding whether an objective was missed is a pure function of the last
// success, the objective and now ([Check]); the scheduler calls it every tick
// and raises what it returns.
//
// This package imports no other Understudy package.
package alert
