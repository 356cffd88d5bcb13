// Package backup takes a snapshot of a dataset directory into a chunk store.
//
// The walk visits the dataset depth first in [snapshot.Compare] order, the
// same order the parent snapshot's manifest was written in, so the parent's
// entries are looked up by advancing one cursor through its manifest: a
// file whose size, mtime, ctime and inode are unchanged reuses the parent's
// chunk list without being opened.
//
// Files are cut with the chunk sizes of the dataset's class, except that
// database files get small chunks in every class ([chunk.ParamsForFile]).
//
// Files that must be read go through a pipeline: file workers read the data
// regions of a file (holes of sparse files are skipped with SEEK_DATA /
// SEEK_HOLE) and cut them into content-defined chunks; put workers hash
// them, and compress, encrypt and append the new ones to packs. Both stages run
// on every core, and a byte budget bounds the chunk data in flight, so
// memory stays flat whatever the dataset size. The manifest is written in
// walk order as results arrive, streamed into the store, and the snapshot
// record is committed only after every chunk is durable.
//
// Device files, FIFOs and sockets are skipped, and so is the store itself
// when it lies inside the dataset. Extended attributes and ACLs
// are not recorded. Files changing while they are read are stored as read.
//
// This package imports pkg/chunk, pkg/store and pkg/snapshot only.
package backup
