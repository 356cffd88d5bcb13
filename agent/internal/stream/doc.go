// Package stream protects transactional datasets continuously: a [Sender]
// on the primary watches a dataset directory and ships every change to a
// [Receiver] on the standby within about a second of the write, and the
// receiver applies the changes in order and acknowledges them only once
// they are durable.
//
// # Wiring
//
// The mirror server mounts the Receiver (an http.Handler) at /v1/stream/
// on its mutual-TLS listener; the sender side gets an *http.Client with the
// client certificate and the base URL "https://STANDBY:PORT/v1/stream/".
// One Sender runs per transactional dataset and standby, from
// [Sender.Run] (blocks until its context ends); [Sender.Lag] feeds the
// lag gauge and the objective check, [ReceiverConfig.OnApplied] the
// standby's freshness.
//
// # What travels
//
// A change is an update: write bytes at an offset, set a file's size, or
// remove a file. The sender keeps a model of the receiver's copy (size and
// the hash of every fixed-size block of each file) and ships the
// difference between the files and the model:
//
//   - A file that grew and whose old last block and first block hash as
//     before is taken as appended to (binary logs, WAL, journals): only
//     the bytes past the old end are read and sent.
//   - Any other change (a write in place, a shrink, a rotated log, a file
//     whose old content changed) re-hashes the whole file and sends the
//     blocks that differ (16 KiB by default), after a truncation when the
//     file shrank. A file whose content changed ahead of its old end stops
//     being taken for append-only. Page files ([PageFile]: SQLite, InnoDB,
//     MyISAM, LMDB, WiredTiger names) are always compared in full, since
//     they grow and are rewritten at once. Each rescan also re-reads a
//     bounded share (SenderConfig.VerifyBytes, 32 MiB) of the append-only
//     files, resuming where the last one stopped, and compares it with
//     what was shipped, catching a rewrite the two sampled blocks missed
//     without re-reading a 10 GB log every few seconds.
//
// Block comparison was chosen over small-chunk snapshots through the store
// because it needs no store, no lock and no manifest per change, ships a
// rewritten 4 KiB page as one block rather than a ~64 KiB chunk, and keeps
// the standby's copy a plain directory that promotion uses as it is.
// Snapshots of the dataset still run on their schedule for history.
//
// Changes are found through fsnotify (one watch per directory, added as
// directories appear) and by a periodic rescan (2 s) that compares sizes
// and modification times, since fsnotify has no recursive watch and can
// overflow. A path reported by a watch event is compared even when size
// and mtime look unchanged, as mtime is too coarse to tell two quick
// writes apart.
//
// # Order, durability, back-pressure
//
// Every update carries a sequence number. The receiver applies update N+1
// only after N: a batch starting past its position is refused (409) and
// the sender resends from the receiver's position, updates it already has
// are skipped, so resending is always safe and gaps cannot happen. At the
// end of each request the receiver fsyncs the touched files and
// directories, then writes its position (atomically) and answers with it.
// The sender holds every unacknowledged update (at most
// SenderConfig.MaxInFlight bytes; when full it stops reading files and
// changes coalesce) and sends one request at a time.
//
// Each time a sender starts it opens a session: the receiver returns its
// position and the block hashes of its copy, the sender makes that its
// model and rescans, so a sender restarted after a crash (or a standby
// whose copy changed) ships exactly the differences. Opening a session
// fences the previous one: its requests are refused and its Run returns
// [ErrSuperseded].
//
// # Not guaranteed
//
// The standby's copy is the files as the sender read them, not a
// transaction-consistent image: a database on the standby recovers from
// it as from a crash (its own log replays), which is what databases are
// built for. Symlinks, permissions, ownership and empty directories are
// not replicated (the snapshot mirror carries them); the replicated files
// are created mode 0600.
//
// This package imports pkg/snapshot (path checks) and github.com/fsnotify
// (which it alone wraps); it must not import other agent packages.
package stream
