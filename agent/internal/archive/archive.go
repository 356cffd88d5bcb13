package archive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/understudy/understudy/pkg/atomicfile"
	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
)

// OpenOptions configure [Open].
type OpenOptions struct {
	// Key is the store family's master key; required when the archived
	// store is encrypted.
	Key []byte
	// Workers download chunks in parallel; zero means 4.
	Workers int
	Logger  *slog.Logger
}

// ErrNoArchive is returned by [Open] when the backend holds no archive
// (no config object).
var ErrNoArchive = errors.New("archive: no archive here")

// Archive is an archive opened for reading, retention and prune, with a
// local cache store that holds its config, its snapshot records and the
// chunks fetched so far. Its methods are not safe for concurrent use.
type Archive struct {
	b       Backend
	dir     string
	st      *store.Store
	workers int
	log     *slog.Logger
}

// Open reads the archive in b into the cache store at cacheDir (created
// when missing; an existing cache of the same archive family is reused,
// and its records are brought in line with the archive). It needs nothing
// but the archive and, for an encrypted archive, the key.
func Open(ctx context.Context, b Backend, cacheDir string, opts OpenOptions) (*Archive, error) {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := readAll(ctx, b, configObject, maxConfigSize)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNoArchive, b)
	}
	if err != nil {
		return nil, err
	}
	if _, err := parseFamily(cfg); err != nil {
		return nil, err
	}
	recDir := filepath.Join(cacheDir, filepath.FromSlash(storeRecordsDir))
	for _, d := range []string{filepath.Join(cacheDir, "packs"), filepath.Join(cacheDir, "tmp"), recDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("archive: cache: %w", err)
		}
	}
	cfgPath := filepath.Join(cacheDir, storeConfigFile)
	local, err := os.ReadFile(cfgPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := atomicfile.Write(cfgPath, cfg, tmpPrefix); err != nil {
			return nil, fmt.Errorf("archive: cache: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("archive: cache: %w", err)
	default:
		if err := sameFamily(cfg, local); err != nil {
			return nil, fmt.Errorf("archive: cache %s: %w", cacheDir, err)
		}
	}
	if err := syncRecords(ctx, b, recDir); err != nil {
		return nil, err
	}
	st, err := store.Open(cacheDir, store.Options{Key: opts.Key, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("archive: cache: %w", err)
	}
	return &Archive{b: b, dir: cacheDir, st: st, workers: opts.Workers, log: log}, nil
}

// syncRecords makes the cache's record files those of the archive.
func syncRecords(ctx context.Context, b Backend, recDir string) error {
	remote := map[string]bool{}
	if err := b.List(ctx, snapshotsPrefix, func(oi ObjectInfo) error {
		remote[oi.Name[len(snapshotsPrefix):]] = true
		return nil
	}); err != nil {
		return err
	}
	ents, err := os.ReadDir(recDir)
	if err != nil {
		return fmt.Errorf("archive: cache: %w", err)
	}
	local := map[string]bool{}
	for _, e := range ents {
		switch {
		case !e.Type().IsRegular():
		case remote[e.Name()]:
			local[e.Name()] = true
		default:
			if err := os.Remove(filepath.Join(recDir, e.Name())); err != nil {
				return fmt.Errorf("archive: cache: %w", err)
			}
		}
	}
	for id := range remote {
		if local[id] || ValidName(id) != nil {
			continue
		}
		data, err := readAll(ctx, b, snapshotObject(id), maxRecordSize)
		if err != nil {
			return err
		}
		if err := atomicfile.Write(filepath.Join(recDir, id), data, tmpPrefix); err != nil {
			return fmt.Errorf("archive: cache: %w", err)
		}
	}
	return nil
}

// Store returns the cache store. After [Archive.Fetch] of a snapshot it
// restores that snapshot (restore.Run, restore.Drill) like any store.
func (a *Archive) Store() *store.Store { return a.st }

// Backend returns the archive's backend.
func (a *Archive) Backend() Backend { return a.b }

// Snapshots lists the archive's snapshots, oldest first; with dataset set,
// only that dataset's.
func (a *Archive) Snapshots(ctx context.Context, dataset string) ([]*snapshot.Record, error) {
	return snapshot.List(ctx, a.st, dataset)
}

// Fetch downloads into the cache store every chunk of rec it lacks, each
// checked against its ID ([store.ErrCorrupt] names a damaged one), and makes
// them durable. Afterwards rec restores from [Archive.Store] alone.
func (a *Archive) Fetch(ctx context.Context, rec *snapshot.Record) error {
	w, err := a.st.Lock(ctx, store.LockOptions{Wait: true})
	if err != nil {
		return err
	}
	defer w.Close()
	if err := a.download(ctx, w, rec.Tree); err != nil {
		return fmt.Errorf("archive: fetch snapshot %s: %w", snapshot.ShortID(rec.ID), err)
	}
	ids, err := snapshotChunks(ctx, a.st, rec)
	if err != nil {
		return err
	}
	if err := a.download(ctx, w, ids); err != nil {
		return fmt.Errorf("archive: fetch snapshot %s: %w", snapshot.ShortID(rec.ID), err)
	}
	return w.Close()
}

// FetchLatest fetches the newest snapshot of dataset (see
// [Archive.Fetch]) and returns it; restore.Run or restore.Drill on
// [Archive.Store] then restore it. It fails with snapshot.ErrNotFound when
// the archive holds no snapshot of dataset.
func (a *Archive) FetchLatest(ctx context.Context, dataset string) (*snapshot.Record, error) {
	recs, err := a.Snapshots(ctx, dataset)
	if len(recs) == 0 && err != nil {
		return nil, err
	}
	rec, err := snapshot.Latest(recs, time.Time{})
	if err != nil {
		return nil, err
	}
	return rec, a.Fetch(ctx, rec)
}

// download fetches the chunks of ids the cache lacks and flushes them.
func (a *Archive) download(ctx context.Context, w *store.Writer, ids []chunk.ID) error {
	missing, err := a.st.Missing(ctx, ids)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.workers)
	for _, id := range missing {
		g.Go(func() error {
			blob, err := readAll(gctx, a.b, chunkObject(id), maxChunkSize)
			if errors.Is(err, ErrNotFound) {
				return fmt.Errorf("%w: chunk %s is missing from %s", ErrDamaged, id, a.b)
			}
			if err != nil {
				return err
			}
			if err := w.PutStored(gctx, id, blob); err != nil {
				return fmt.Errorf("chunk %s from %s: %w", id, a.b, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return w.Flush(ctx)
}

// Forget removes snapshots from the archive (and the cache). The caller
// picks them, typically with retention.Apply over [Archive.Snapshots].
// Their chunks stay until [Archive.Prune].
func (a *Archive) Forget(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	w, err := a.st.Lock(ctx, store.LockOptions{Wait: true})
	if err != nil {
		return err
	}
	defer w.Close()
	for _, id := range ids {
		if err := ValidName(id); err != nil {
			return err
		}
		if err := a.b.Delete(ctx, snapshotObject(id)); err != nil {
			return err
		}
		if err := snapshot.Delete(ctx, w, id); err != nil {
			return err
		}
		a.log.Info("archived snapshot forgotten", "snapshot", snapshot.ShortID(id), "archive", a.b.String())
	}
	return w.Close()
}

// PruneStats report what [Archive.Prune] deleted.
type PruneStats struct {
	Chunks int   `json:"chunks_deleted"`
	Bytes  int64 `json:"bytes_deleted"`
	Kept   int   `json:"chunks_kept"`
}

// Prune deletes the archive's chunks that no remaining snapshot needs. It
// reads every remaining snapshot's manifest first (fetching manifest
// chunks into the cache) and deletes nothing if any cannot be read. It
// must not run while a [Copy] writes to the same archive.
func (a *Archive) Prune(ctx context.Context) (PruneStats, error) {
	var stats PruneStats
	// Records may have been forgotten by another agent sharing the
	// archive: start from the archive's list.
	if err := syncRecords(ctx, a.b, filepath.Join(a.dir, filepath.FromSlash(storeRecordsDir))); err != nil {
		return stats, err
	}
	recs, err := snapshot.List(ctx, a.st, "")
	if err != nil {
		return stats, fmt.Errorf("archive: prune: unreadable snapshot record, nothing deleted: %w", err)
	}
	w, err := a.st.Lock(ctx, store.LockOptions{Wait: true})
	if err != nil {
		return stats, err
	}
	defer w.Close()
	used := map[chunk.ID]bool{}
	for _, rec := range recs {
		if err := a.download(ctx, w, rec.Tree); err != nil {
			return stats, fmt.Errorf("archive: prune: manifest of snapshot %s, nothing deleted: %w", snapshot.ShortID(rec.ID), err)
		}
		ids, err := snapshotChunks(ctx, a.st, rec)
		if err != nil {
			return stats, fmt.Errorf("archive: prune: nothing deleted: %w", err)
		}
		for _, id := range ids {
			used[id] = true
		}
	}
	if err := w.Close(); err != nil {
		return stats, err
	}
	var drop []ObjectInfo
	if err := a.b.List(ctx, chunksPrefix, func(oi ObjectInfo) error {
		id, ok := parseChunkObject(oi.Name)
		if ok && used[id] {
			stats.Kept++
		} else if ok {
			drop = append(drop, oi)
		}
		return nil
	}); err != nil {
		return stats, err
	}
	for _, oi := range drop {
		if err := a.b.Delete(ctx, oi.Name); err != nil {
			return stats, err
		}
		stats.Chunks++
		stats.Bytes += oi.Size
	}
	a.log.Info("archive pruned", "archive", a.b.String(), "chunks_deleted", stats.Chunks, "bytes_deleted", stats.Bytes)
	return stats, nil
}

// Close closes the cache store. The cache directory stays (a later Open
// reuses it); the caller removes it when it was scratch space.
func (a *Archive) Close() error { return a.st.Close() }
