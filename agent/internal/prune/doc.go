// Package prune applies a retention policy to a store's snapshots (forget)
// and removes the data no remaining snapshot needs (prune).
//
// Both run under the store's writer lock, so a backup cannot run between
// deciding what is unused and deleting it. The set of used chunks is built
// from every remaining snapshot's manifest; if any manifest cannot be read,
// prune refuses to run rather than delete data a snapshot might need.
//
// Decisions come from agent/internal/retention (pure); this package does
// the I/O. Snapshots are grouped by dataset and host, and the policy is
// applied to each group.
package prune
