// Package verify checks a store end to end and names the damage.
//
// It compares the index with the pack files (presence, size, trailers),
// optionally reads back all or a random fraction of the packs and checks
// every chunk against its SHA-256, then walks every snapshot's manifest to
// find which snapshots and which files depend on a missing or damaged
// chunk. The report says which packs, snapshots and files are affected; a
// damaged index is reported too (the store falls back to the pack trailers
// and the next writer rebuilds it).
//
// It takes no lock, so it can run beside a backup.
package verify
