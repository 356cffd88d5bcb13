// Package store keeps chunks content-addressed on a local filesystem.
//
// A store directory holds config.json (format version, random store id, the
// chunking polynomial, the key check), packs/ (pack files of about 32 MiB),
// index.db (a bbolt index: chunk ID → pack, offset, length), records/ (small
// named values such as snapshot records), tmp/ (packs being written) and
// lock (the writer lock).
//
// Each chunk is stored once, as a blob: zstd-compressed unless a sample
// shows it does not compress, and, with a key, sealed with AES-256-GCM
// bound to its ID. Reading a chunk always checks its SHA-256 against its ID,
// and the zstd decoder's memory is capped against decompression bombs.
//
// Crash safety rests on one ordering: a pack is written under tmp/, synced
// and renamed into packs/ before the index names it, and a snapshot record
// is saved only after [Writer.Flush] made all its chunks durable. An
// interrupted writer therefore leaves only temporary files (removed by the
// next writer) and complete packs nobody refers to (indexed by the next
// writer and removed by prune). Pack files are self-describing (a sealed
// trailer lists their blobs), so a damaged index is rebuilt from them.
//
// One [Writer] at a time holds the writer lock, an flock the kernel drops
// when its holder dies: a lock left behind by a killed writer is stale at
// once. Readers take no lock; they open the index for one short transaction
// per batch of lookups, so a running backup never holds them up.
//
// For the mirror: [Store.Missing] answers have/want, [Store.GetStored] and
// [Writer.PutStored] move blobs as they are stored, and records are saved
// atomically with [Writer.SaveRecord] after a Flush.
//
// This package imports only pkg/chunk among Understudy packages.
package store
