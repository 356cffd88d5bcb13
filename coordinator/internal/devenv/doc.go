// Package devenv assembles `understudy-coordinator dev`: a single-node
// coordinator, a primary and a standby agent, and a stand-in grid login
// service on each, all on loopback in one process with a generated gossip
// key and tokens. It exists so that a newcomer sees DNS, the API and
// failover work within a minute of typing one command.
package devenv
