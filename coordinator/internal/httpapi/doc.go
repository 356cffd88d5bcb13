// Package httpapi serves the coordinators' admin API under /v1 (types in
// pkg/api).
//
// Reads are answered from the local catalogue replica, so they keep working
// without a leader; "?consistent" makes the leader confirm it still leads
// first (a follower forwards such reads). Writes are forwarded to the leader
// by a reverse proxy, once: a forwarded request that reaches a non-leader
// gets 503 rather than bouncing around.
//
// Every write needs a token (401 without one, 403 with a wrong one), compared
// in constant time. Errors are JSON bodies {"error": "..."}: 400 bad input,
// 404 unknown name, 503 no leader.
//
// The package sees the rest of the coordinator through [Backend], declared
// here and implemented by the wiring package.
package httpapi
