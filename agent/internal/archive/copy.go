package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
)

// CopyOptions configure [Copy].
type CopyOptions struct {
	// Dataset limits the copy to one dataset's snapshots; empty copies
	// all.
	Dataset string
	// Workers upload chunks in parallel; zero means 4.
	Workers int
	Logger  *slog.Logger
}

// CopyStats report what a [Copy] did.
type CopyStats struct {
	// Snapshots were uploaded; SnapshotsPresent were already there.
	Snapshots        int `json:"snapshots"`
	SnapshotsPresent int `json:"snapshots_present"`
	// SnapshotsGone were forgotten in the store while the copy ran and
	// were skipped.
	SnapshotsGone int `json:"snapshots_gone,omitempty"`
	// Chunks were uploaded (Bytes of stored blobs); ChunksPresent needed
	// no upload.
	Chunks        int   `json:"chunks"`
	ChunksPresent int   `json:"chunks_present"`
	Bytes         int64 `json:"bytes"`
}

// Copy uploads to b every snapshot of st (or of opts.Dataset) the archive
// lacks, with only the chunks the archive lacks. A snapshot's record goes
// up after all its chunks, so the archive never lists a snapshot it cannot
// restore. The first copy writes the store's config; later copies refuse
// (with [ErrMismatch]) a store of another family (polynomial or key).
//
// Copy takes no store lock and runs beside a backup or a forget: a
// snapshot forgotten while it is being copied is skipped (and counted in
// SnapshotsGone) rather than failing the copy of the others.
func Copy(ctx context.Context, st *store.Store, b Backend, opts CopyOptions) (CopyStats, error) {
	var stats CopyStats
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := ensureConfig(ctx, st, b); err != nil {
		return stats, err
	}
	have := map[string]bool{}
	if err := b.List(ctx, snapshotsPrefix, func(oi ObjectInfo) error {
		have[oi.Name[len(snapshotsPrefix):]] = true
		return nil
	}); err != nil {
		return stats, err
	}
	recs, err := snapshot.List(ctx, st, opts.Dataset)
	if err != nil && len(recs) == 0 {
		return stats, fmt.Errorf("archive: list snapshots: %w", err)
	}
	var todo []*snapshot.Record
	for _, r := range recs {
		if have[r.ID] {
			stats.SnapshotsPresent++
		} else {
			todo = append(todo, r)
		}
	}
	if len(todo) == 0 {
		return stats, nil
	}
	chunks, err := listChunks(ctx, b)
	if err != nil {
		return stats, err
	}
	for _, rec := range todo {
		uploaded, err := copySnapshot(ctx, st, b, rec, chunks, opts.Workers, &stats)
		if err == nil {
			stats.Snapshots++
			log.Debug("snapshot archived", "snapshot", snapshot.ShortID(rec.ID), "dataset", rec.Dataset, "archive", b.String(), "chunks", uploaded)
			continue
		}
		// A snapshot forgotten since it was listed may have lost chunks to
		// a prune: skip it.
		if _, serr := os.Stat(recordPath(st, rec)); errors.Is(serr, fs.ErrNotExist) {
			stats.SnapshotsGone++
			log.Debug("snapshot forgotten during the copy, skipped", "snapshot", snapshot.ShortID(rec.ID), "archive", b.String())
			continue
		}
		return stats, err
	}
	return stats, nil
}

func recordPath(st *store.Store, rec *snapshot.Record) string {
	return filepath.Join(st.Dir(), filepath.FromSlash(storeRecordsDir), rec.ID)
}

// copySnapshot uploads the chunks of rec that the archive lacks (chunks,
// which it updates) and then its record, and returns how many chunks it
// uploaded.
func copySnapshot(ctx context.Context, st *store.Store, b Backend, rec *snapshot.Record, chunks map[chunk.ID]bool, workers int, stats *CopyStats) (int, error) {
	ids, err := snapshotChunks(ctx, st, rec)
	if err != nil {
		return 0, err
	}
	var missing []chunk.ID
	for _, id := range ids {
		if chunks[id] {
			stats.ChunksPresent++
		} else {
			missing = append(missing, id)
		}
	}
	n, err := upload(ctx, st, b, missing, workers)
	stats.Bytes += n
	if err != nil {
		return 0, fmt.Errorf("archive: copy snapshot %s: %w", snapshot.ShortID(rec.ID), err)
	}
	for _, id := range missing {
		chunks[id] = true
	}
	stats.Chunks += len(missing)
	raw, err := os.ReadFile(recordPath(st, rec))
	if err != nil {
		return 0, fmt.Errorf("archive: copy snapshot %s: %w", snapshot.ShortID(rec.ID), err)
	}
	if err := b.Put(ctx, snapshotObject(rec.ID), bytes.NewReader(raw), int64(len(raw))); err != nil {
		return 0, err
	}
	return len(missing), nil
}

// ensureConfig writes the store's config to an empty archive, or checks
// that the archive's config is of the same family.
func ensureConfig(ctx context.Context, st *store.Store, b Backend) error {
	local, err := os.ReadFile(filepath.Join(st.Dir(), storeConfigFile))
	if err != nil {
		return fmt.Errorf("archive: read store config: %w", err)
	}
	remote, err := readAll(ctx, b, configObject, maxConfigSize)
	if errors.Is(err, ErrNotFound) {
		return b.Put(ctx, configObject, bytes.NewReader(local), int64(len(local)))
	}
	if err != nil {
		return err
	}
	return sameFamily(remote, local)
}

// listChunks returns the set of chunks in the archive.
func listChunks(ctx context.Context, b Backend) (map[chunk.ID]bool, error) {
	out := map[chunk.ID]bool{}
	err := b.List(ctx, chunksPrefix, func(oi ObjectInfo) error {
		if id, ok := parseChunkObject(oi.Name); ok {
			out[id] = true
		}
		return nil
	})
	return out, err
}

// snapshotChunks lists, without repeats, the chunks rec needs: its
// manifest's, then its files'.
func snapshotChunks(ctx context.Context, st *store.Store, rec *snapshot.Record) ([]chunk.ID, error) {
	seen := map[chunk.ID]bool{}
	var out []chunk.ID
	add := func(id chunk.ID) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, id := range rec.Tree {
		add(id)
	}
	err := snapshot.Walk(ctx, st, rec, func(n *snapshot.Node) error {
		for _, c := range n.Chunks {
			add(c.ID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("archive: read manifest of snapshot %s: %w", snapshot.ShortID(rec.ID), err)
	}
	return out, nil
}

// upload puts the stored blobs of ids, with workers in parallel. Memory is
// bounded by workers blobs.
func upload(ctx context.Context, st *store.Store, b Backend, ids []chunk.ID, workers int) (int64, error) {
	var mu sync.Mutex
	var total int64
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, id := range ids {
		g.Go(func() error {
			blob, err := st.GetStored(ctx, id)
			if err != nil {
				return err
			}
			if err := b.Put(ctx, chunkObject(id), bytes.NewReader(blob), int64(len(blob))); err != nil {
				return err
			}
			mu.Lock()
			total += int64(len(blob))
			mu.Unlock()
			return nil
		})
	}
	err := g.Wait()
	return total, err
}
