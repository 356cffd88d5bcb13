// Package snapshot defines what a snapshot is on disk: a record (id,
// dataset, host, class, time, parent, tags, statistics, and the chunks of
// its tree manifest) and the manifest itself (one [Node] per file,
// directory, symlink or hard link, in walk order).
//
// The manifest is a stream of JSON lines behind a version header. It is
// chunked with small content-defined chunks and stored in the chunk store
// like file data, so it is compressed, encrypted, deduplicated between
// snapshots and mirrored like everything else; reading and writing it are
// streaming, so memory stays flat whatever the dataset size.
//
// Walk order is depth first with the entries of a directory sorted bytewise
// by name ([Compare]); the backup's parent lookup relies on it.
//
// The format is pinned by golden files under testdata (update them with
// `go test -update` only for a deliberate, versioned format change). The
// package imports pkg/chunk and pkg/store, nothing else from Understudy.
package snapshot
