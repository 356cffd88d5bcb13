// Package failover decides standby promotions and keeps the primaries'
// leases.
//
// The policy is a pure function, [Decide], of the catalogue, the lease
// table and the time: the leader calls it on every tick and commits each
// decision through Raft as a compare-and-set on the service's epoch, so a
// decision made on a stale view is rejected rather than applied twice.
//
// Leases live in the leader's memory ([Leases]). A primary's agent renews
// its lease for a service every quarter of the TTL; the agent counts its
// lease from before it sent the renewal and the leader from when it
// received it, so the agent always believes its lease ends first. An agent
// that cannot renew stops the service by itself before the leader may
// promote anyone. A new leader knows no leases: it treats every service as
// leased until one TTL after it took over, which outlasts anything the old
// leader granted.
//
// A primary is down when its host is failed, left or fenced, or its check
// has been critical for longer than the grace period. Failover also needs
// the primary's lease to have expired. The standby chosen is the one with
// the freshest copy of the data, then the fewest primaries, then by name.
package failover
