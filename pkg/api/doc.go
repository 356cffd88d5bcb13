// Package api is the contract of the coordinators' HTTP admin API: the JSON
// types under /v1 and a client for them. The admin CLI, the agents and the
// tests reach coordinators only through this package.
//
// Reads are served by any coordinator from its local replica; add
// [Consistent] to have the leader confirm its leadership first. Writes may be
// sent to any coordinator and are forwarded to the leader. Writes need a
// token: the admin token, or for agent registration the agent token.
//
// This package imports nothing from agent/ or coordinator/.
package api
