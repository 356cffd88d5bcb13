//go:build bench

// Command backup is the snapshot engine's side-by-side benchmark
// (`make bench-backup`): it generates a deterministic, seeded grid-like
// dataset of at least 1 GiB in a temporary directory (database files of
// 16 KiB pages, incompressible region archives, small assets with
// duplicates across regions, append-only logs, config files), backs it up
// with understudy-agent (encrypted with a key file), restic (defaults) and
// borg (repokey, defaults), mutates about 4% of it while counting the bytes
// that truly changed, backs it up again with each tool, and restores the
// latest snapshot of each into an empty directory, checking the restored
// tree against the source. Every timed command runs under /usr/bin/time -v
// for its peak RSS. Each measurement is repeated (three times by default,
// one store per tool and repetition, tools in rotating order) and the
// medians are printed as a markdown table with the ratios against borg and
// restic.
//
// It is a measurement, not a test: it fails only when a tool fails or a
// restore does not match the source, never because something was slow.
// The build tag bench keeps it out of `go build ./...`; docs/benchmarks.md
// ("Backup and restore") records a run.
package main
