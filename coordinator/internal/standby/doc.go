// Package standby owns the dynamic standby pool controller of a region and
// the simulator that runs it against a demand trace.
//
// The one idea: the controller is a pure function per tick, [Step]. It takes
// the region's [Policy], the [State] it returned at the previous tick, what
// the pool holds now ([Observation]) and the time, and returns the next State
// and a [Decision] (the standby target, how many servers to request from the
// provisioner, how many idle ones to release). It reads no clock and does no
// I/O, so the Raft leader can run it every tick and store State in the
// catalogue, and `understudy-coordinator pool simulate` ([Simulate]) runs
// exactly the same code with no cluster.
//
// Policy follows PlayFab's dynamic standby: a floor, a maximum server count,
// thresholds (percent of the floor → multiplier of the floor) and a
// ramp-down time. Where PlayFab's published example disagrees with its own
// formula, Understudy follows the formula; docs/standby.md goes through the
// example row by row.
//
// This package imports no other Understudy package: the leader loop that
// counts hosts, calls the provisioner and applies decisions lives in the
// coordinator's wiring.
package standby
