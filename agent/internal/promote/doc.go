// Package promote carries out the coordinators' decisions on one host:
// which of its services run, at which epoch, and for how long.
//
// A [Manager] follows the host's instances in the catalogue with blocking
// queries. For each service it runs the process when the host is the
// primary at the current epoch and holds the lease for that epoch, or when
// the service is a hot standby; otherwise it keeps the process stopped.
//
// Leases are what make failover safe. The manager renews the lease of every
// service it is primary for four times per TTL, and counts each lease from
// before it sent the renewal, so it always believes its lease ends before
// the leader does. When it cannot renew (partitioned, coordinators down,
// the process was paused) it stops the service a quarter TTL before its
// lease ends, by itself, before the leader may promote a standby. A refused
// renewal (a newer epoch, a fence) stops the service at once.
//
// A former primary that finds itself fenced keeps the service stopped,
// resynchronises from the new primary and then reports that it may stand
// by again.
package promote
