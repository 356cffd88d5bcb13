package restore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
)

// DrillResult reports a restore test.
type DrillResult struct {
	Snapshot string `json:"snapshot"`
	Dataset  string `json:"dataset"`
	Files    int64  `json:"files"`
	Bytes    int64  `json:"bytes"`
	// RTO is how long the restore took; Verify how long re-reading and
	// re-hashing the restored files took.
	RTO    time.Duration `json:"rto_ns"`
	Verify time.Duration `json:"verify_ns"`
	// Damaged names the files the drill could not restore and why (the
	// error names the chunk and the pack holding it).
	Damaged []FileError `json:"-"`
}

// Drill restores the latest snapshot of dataset into a scratch directory
// under scratchParent (the system temp dir when empty), re-reads every
// restored file and checks it against the manifest's chunk hashes, then
// removes the scratch directory. It measures the recovery time.
func Drill(ctx context.Context, st *store.Store, dataset, scratchParent string, opts Options) (*DrillResult, error) {
	rec, err := Select(ctx, st, dataset, "", time.Time{})
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(scratchParent, "understudy-drill-")
	if err != nil {
		return nil, fmt.Errorf("drill: %w", err)
	}
	defer os.RemoveAll(dir)
	target := filepath.Join(dir, "restore")
	res, err := Run(ctx, st, rec, target, opts)
	if res == nil {
		return nil, fmt.Errorf("drill of dataset %s, snapshot %s: %w", rec.Dataset, snapshot.ShortID(rec.ID), err)
	}
	out := &DrillResult{Snapshot: rec.ID, Dataset: rec.Dataset, Files: res.Files, Bytes: res.Bytes, RTO: res.Duration, Damaged: res.Damaged}
	if err != nil {
		return out, fmt.Errorf("drill of dataset %s, snapshot %s: %w", rec.Dataset, snapshot.ShortID(rec.ID), err)
	}
	start := time.Now()
	if err := Compare(ctx, st, rec, target); err != nil {
		return out, err
	}
	out.Verify = time.Since(start)
	return out, nil
}

// Compare checks that the files under dir hold exactly the data of rec's
// manifest, chunk by chunk.
func Compare(ctx context.Context, st *store.Store, rec *snapshot.Record, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("drill: %w", err)
	}
	defer root.Close()
	var buf []byte
	return snapshot.Walk(ctx, st, rec, func(n *snapshot.Node) error {
		if n.Type != snapshot.TypeFile {
			return nil
		}
		f, err := root.Open(n.Path)
		if err != nil {
			return fmt.Errorf("drill: %w", err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("drill: %w", err)
		}
		if fi.Size() != n.Size {
			return fmt.Errorf("drill: %s: size %d, snapshot says %d", n.Path, fi.Size(), n.Size)
		}
		for _, c := range n.Chunks {
			if cap(buf) < int(c.Length) {
				buf = make([]byte, c.Length)
			}
			buf = buf[:c.Length]
			if _, err := f.ReadAt(buf, c.Offset); err != nil {
				return fmt.Errorf("drill: %s: %w", n.Path, err)
			}
			if chunk.Sum(buf) != c.ID {
				return fmt.Errorf("drill: %s: bytes at %d differ from the snapshot", n.Path, c.Offset)
			}
		}
		return nil
	})
}
