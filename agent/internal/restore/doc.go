// Package restore materialises a snapshot into a directory, and keeps a
// directory (the standby's warm copy) equal to a snapshot.
//
// [Run] works on an empty target or over an existing one, rewriting only
// what differs: a file already in the target is compared chunk by chunk
// with the snapshot (by hashing its bytes) and only differing chunks are
// written; entries the snapshot does not have are removed; metadata (mode,
// owner, mtime) is set on everything. Sparse files are restored sparse.
// Every chunk read from the store is checked against its SHA-256.
//
// All writes go through an [os.Root] on the target, so nothing is ever
// written outside it, and the manifest is checked before anything is
// created: paths must be relative, free of "." and ".." components and NUL
// bytes, strictly in walk order, and every entry's parent must be a
// directory of the snapshot. A symlink in the snapshot or planted in the
// target never redirects a later write.
//
// A damaged chunk fails the files that use it, which are named in the
// result; the rest of the snapshot is still restored.
//
// Not restored: extended attributes, ACLs, symlink timestamps, atime.
package restore
