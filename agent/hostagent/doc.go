// Package hostagent is the understudy-agent daemon as a library: it joins
// the gossip pool with typed metadata, registers the host's services with
// the coordinators, and leaves the pool gracefully when stopped.
//
// It only wires; the work of backups, mirroring, health checks and orders
// lives in agent/internal packages.
package hostagent
