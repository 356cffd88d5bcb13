// Package server is one coordinator member as a library: it wires the
// catalogue, Raft, gossip, DNS and the admin API together and runs them.
//
// It only wires. Decisions live below it: the catalogue state machine in
// internal/catalog, Raft in internal/consensus, answers in internal/dns and
// internal/httpapi. The one piece of policy here is small: the leader turns
// what gossip observed into catalogue commands (gossip informs, Raft
// decides), and adds coordinators that join the pool as Raft voters.
//
// Use: cfg := server.DefaultConfig(); fill it; s, err := server.New(cfg,
// logger); go s.Run(ctx); s.HTTPAddr(), s.DNSAddr() report bound addresses.
package server
