// Package rig runs an Understudy cluster as separate processes on loopback
// for the failover tests and benchmarks: three understudy-coordinator
// processes and understudy-agent hosts, each on a loopback address of its
// own (127.X.Y.Z, derived from the test process id), with the stand-in grid
// login service supervised by the agents on a fixed port.
//
// It drives the processes only from outside: signals (SIGKILL, SIGSTOP,
// SIGCONT), the process table, the admin API and CLI, DNS, the login front,
// and nftables rules that cut a host off from the coordinators. Each agent
// and the coordinators run under a group id of their own (as root), so that
// a partition can match their sockets with `meta skgid`: on loopback the
// kernel sends a process's outgoing connections from 127.0.0.1 whatever
// address its listeners use, so addresses alone cannot tell hosts apart.
//
// Everything a rig starts is killed and every rule it adds is removed in
// the test's cleanup. It imports only pkg/ packages and the stand-in login
// service; it never imports agent/ or coordinator/.
package rig
