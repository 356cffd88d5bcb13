// Package retention decides which snapshots a keep policy keeps.
//
// [Apply] is a pure function of the snapshots, the policy and the time of
// evaluation: no clock, no I/O. It follows the usual bucket rules (as in
// restic's forget): walking from the newest snapshot back, keep-last keeps
// the n newest; keep-hourly keeps the newest snapshot of each of the n
// most recent hours that have one; likewise for days, ISO weeks, months and
// years. A snapshot kept by any rule is kept, and the reasons are reported.
// Snapshots dated after now (clock skew) are always kept. A policy that
// keeps nothing is refused, so that a typo cannot delete everything.
//
// Buckets are computed in now's time zone.
package retention
