// Package consensus is the coordinator's Raft plumbing: the TCP transport,
// the bbolt log and stable store, file snapshots, bootstrap, membership
// changes and [Node.Apply] with a context.
//
// It is the only package that imports hashicorp/raft. It knows nothing of
// what the log entries mean: the state machine is any [FSM], in practice the
// catalogue.
//
// Timeouts come from the caller's context: Apply derives the timeout it hands
// to Raft from ctx's deadline.
package consensus
