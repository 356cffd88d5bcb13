// Package catalog is the coordinator's replicated state machine: hosts,
// services and their instances, and everything later failover decisions
// need. It is applied by Raft on every coordinator and read by DNS, the
// admin API and the leader loops.
//
// The one idea: Apply is deterministic. It takes an encoded [Command], never
// reads a clock, draws no random numbers and does no I/O, so every replica
// that applies the same log holds the same catalogue. Timestamps travel
// inside commands.
//
// Commands carry a type byte; a type with [IgnoreUnknown] set is skipped by
// replicas that do not know it, so that new command types can be rolled out
// one node at a time. An unknown type without the flag stops the node.
//
// The package imports no Raft, network or clock code; consensus adapts it to
// raft.FSM.
package catalog
