package dns

import "github.com/understudy/understudy/coordinator/internal/catalog"

// View is the read-only part of the catalogue that DNS answers from.
// *catalog.Catalog satisfies it.
//
// Every method is called on the query path, concurrently from many
// goroutines, and must not block on the network: answers come from the local
// replica, so DNS keeps answering while there is no Raft leader. Returned
// slices belong to the caller, who only reads them.
type View interface {
	// Healthy returns the service's instances that are passing on an alive
	// host, primary first. The bool reports whether the service
	// exists at all, healthy or not.
	Healthy(service string) ([]catalog.Endpoint, bool)
	// Host returns one host by name.
	Host(name string) (catalog.Host, bool)
	// Index returns the Raft index of the last applied entry; it becomes
	// the SOA serial (modulo 2^32). Answers are cached until it changes,
	// so every change to what Healthy and Host return must move it (as
	// applying a log entry or restoring a snapshot does), and one index
	// must always mean the same state.
	Index() uint64
}
