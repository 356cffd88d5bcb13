// Package harness runs coordinators and agents in one process on
// 127.0.0.1 with real Raft, gossip, DNS and HTTP transports and data in
// temporary directories, for tests of the whole system.
//
// Every listener uses port 0; restarted members reuse the ports they had so
// that their peers' view of them stays right. Waiting is by polling a
// condition with a deadline ([Eventually]), never by sleeping.
package harness
