// Package archive is the second tier of data protection: it copies
// snapshots from a local chunk store to archive storage (a filesystem path
// such as a NAS mount, or S3-compatible object storage), applies retention
// and prune there, and restores from the archive alone.
//
// # Backends
//
// [Backend] is a small interface over named objects (Put, Get, Stat, List,
// Delete, with a context). [FS] and [S3] implement it, and both pass the one
// conformance suite in package archivetest (the S3 run against a real
// versitygw server started by the test).
//
// # Layout
//
// An archive holds one object per chunk rather than packs:
//
//	config               the source store's config.json (polynomial, key check)
//	snapshots/ID         snapshot records, as sealed by the store
//	chunks/XX/ID         one chunk's stored blob (compressed, sealed with
//	                     the store key when the store is encrypted)
//
// Chunk objects make the archive its own index: listing chunks/ answers
// have/want, a copy uploads exactly the chunks the archive lacks even after
// the local store repacked, and prune deletes unreferenced chunks without
// rewriting anything. The price is one request per chunk (chunks average
// 1 MiB for user, state and log data and 64 KiB for transactional data),
// which filesystem archives and object stores on the same network carry
// well. Blobs keep the store's encryption, so an archive on third-party
// storage holds no plaintext; snapshot records stay sealed too.
//
// # Ordering and crash safety
//
// [Copy] uploads every chunk a snapshot needs before that snapshot's
// record, so an archive never lists a snapshot it cannot restore; an
// interrupted copy leaves only chunks, reused by the next copy. [Archive.Forget]
// deletes records; [Archive.Prune] then deletes the chunks no remaining
// snapshot needs. Prune must not run at the same time as a Copy into the
// same archive (the agent's scheduler serialises archive jobs per archive).
//
// # Restoring from the archive alone
//
// [Open] builds a local cache store from the archive (config and records;
// chunks on demand). [Archive.Fetch] downloads the chunks of one snapshot
// into it, checking each ([Archive.FetchLatest]: the newest of a dataset);
// the cache store ([Archive.Store]) then restores with the ordinary
// restore code, and a restore drill runs on it like on any store:
//
//	a, err := archive.Open(ctx, backend, cacheDir, archive.OpenOptions{Key: key})
//	rec, err := a.FetchLatest(ctx, "robust-config")
//	res, err := restore.Run(ctx, a.Store(), rec, target, restore.Options{})
//
// The package relies on the store's documented on-disk layout
// (docs/snapshots.md, "Store layout") for config.json and record files, so
// that sealed records and configs move unchanged. It imports pkg/store,
// pkg/snapshot and pkg/chunk, and no sibling agent package; retention
// decisions come from the caller (agent/internal/retention).
package archive
