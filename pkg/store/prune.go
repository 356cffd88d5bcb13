package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	bolt "go.etcd.io/bbolt"

	"github.com/understudy/understudy/pkg/chunk"
)

// PruneOptions tune [Writer.Prune].
type PruneOptions struct {
	DryRun bool
	// RepackBelow: a pack whose still-used bytes are below this fraction of
	// its blob bytes is rewritten with only the used blobs. Zero means 0.5.
	RepackBelow float64
}

// PruneStats report what a prune did (or, dry, would do).
type PruneStats struct {
	ChunksTotal   int   `json:"chunks_total"`
	ChunksUnused  int   `json:"chunks_unused"`
	BytesUnused   int64 `json:"bytes_unused"` // stored bytes of unused chunks
	PacksDeleted  int   `json:"packs_deleted"`
	PacksRepacked int   `json:"packs_repacked"`
	// ChunksMoved were copied out of repacked packs; BytesFreed is the
	// size of deleted pack files minus the size of the new ones.
	ChunksMoved int   `json:"chunks_moved"`
	BytesFreed  int64 `json:"bytes_freed"`
	// DamagedSkipped are used chunks that failed their check while being
	// repacked; they are left where they are.
	DamagedSkipped int `json:"damaged_skipped"`
}

// Prune removes every chunk for which used returns false: packs holding
// only unused chunks are deleted, packs mostly unused are rewritten, and
// the index forgets the unused chunks. The writer lock keeps backups out
// for the duration, so no chunk a running backup counts on can vanish.
//
// The order keeps the store consistent at every step: new packs are durable
// and indexed first, then one index transaction drops the old packs, and
// only then are their files deleted. Readers that looked up a chunk before
// the switch and find its pack gone look it up again ([Store.Get]).
func (w *Writer) Prune(ctx context.Context, used func(chunk.ID) bool, opts PruneOptions) (PruneStats, error) {
	var st PruneStats
	if err := w.Flush(ctx); err != nil {
		return st, err
	}
	if opts.RepackBelow <= 0 {
		opts.RepackBelow = 0.5
	}
	s := w.s
	type packUse struct {
		used, unused []packEntry
		usedBytes    int64
		allBytes     int64
	}
	byPack := map[PackID]*packUse{}
	sizes := map[PackID]int64{}
	err := s.view(func(v indexView) error {
		if err := v.forEachPack(func(p PackID, pi PackInfo) error {
			sizes[p] = pi.Size
			byPack[p] = &packUse{}
			return nil
		}); err != nil {
			return err
		}
		return v.forEachChunk(func(id chunk.ID, l Location) error {
			st.ChunksTotal++
			pu := byPack[l.Pack]
			if pu == nil {
				pu = &packUse{}
				byPack[l.Pack] = pu
			}
			e := packEntry{id: id, loc: l}
			pu.allBytes += int64(l.Length)
			if used(id) {
				pu.used = append(pu.used, e)
				pu.usedBytes += int64(l.Length)
			} else {
				pu.unused = append(pu.unused, e)
				st.ChunksUnused++
				st.BytesUnused += int64(l.Length)
			}
			return nil
		})
	})
	if err != nil {
		return st, err
	}
	var drop []PackID     // delete the file and the pack record
	var repack []PackID   // copy used blobs out first
	var forget []chunk.ID // unused chunks to remove from the index
	for p, pu := range byPack {
		for _, e := range pu.unused {
			forget = append(forget, e.id)
		}
		switch {
		case len(pu.used) == 0:
			drop = append(drop, p)
		case len(pu.unused) > 0 && float64(pu.usedBytes) < opts.RepackBelow*float64(pu.allBytes):
			repack = append(repack, p)
		}
	}
	st.PacksDeleted = len(drop)
	st.PacksRepacked = len(repack)
	if opts.DryRun {
		for _, p := range drop {
			st.BytesFreed += sizes[p]
		}
		for _, p := range repack {
			st.BytesFreed += sizes[p] - byPack[p].usedBytes
		}
		return st, nil
	}
	before := w.Stats().StoredBytes
	var keepInPlace = map[PackID]bool{}
	for _, p := range repack {
		moved, damaged, err := w.repack(ctx, byPack[p].used)
		if err != nil {
			return st, err
		}
		st.ChunksMoved += moved
		st.DamagedSkipped += damaged
		if damaged > 0 {
			keepInPlace[p] = true // its damaged chunks still point here
		}
	}
	if err := w.Flush(ctx); err != nil {
		return st, err
	}
	added := w.Stats().StoredBytes - before
	var remove []PackID
	err = s.updateIndex(func(cb, pb *bolt.Bucket) error {
		for _, id := range forget {
			if err := cb.Delete(id[:]); err != nil {
				return err
			}
		}
		for _, p := range append(drop, repack...) {
			if keepInPlace[p] {
				continue
			}
			if err := pb.Delete(p[:]); err != nil {
				return err
			}
			remove = append(remove, p)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	freed := int64(0)
	for _, p := range remove {
		s.dropPackFile(p)
		if err := os.Remove(packPath(s.dir, p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return st, fmt.Errorf("store: delete pack %s: %w", p, err)
		}
		freed += sizes[p]
	}
	// Pack files the index does not name (unreadable leftovers of
	// interrupted writers) go too.
	indexed, err := s.ListPacks(ctx)
	if err != nil {
		return st, err
	}
	files, err := listPackFiles(s.dir)
	if err != nil {
		return st, err
	}
	for p, size := range files {
		if _, ok := indexed[p]; ok {
			continue
		}
		if err := os.Remove(packPath(s.dir, p)); err == nil {
			freed += size
			st.PacksDeleted++
		}
	}
	st.BytesFreed = freed - added
	// The writer's dedup set must forget the removed chunks.
	gone := make(map[chunk.ID]struct{}, len(forget))
	for _, id := range forget {
		gone[id] = struct{}{}
	}
	w.mu.Lock()
	kept := w.known[:0]
	for _, id := range w.known {
		if _, ok := gone[id]; !ok {
			kept = append(kept, id)
		}
	}
	w.known = kept
	for id := range gone {
		delete(w.session, id)
	}
	w.mu.Unlock()
	return st, nil
}

// repack copies the given blobs, as stored, into new packs. Blobs that fail
// their check are not copied.
func (w *Writer) repack(ctx context.Context, entries []packEntry) (moved, damaged int, err error) {
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return moved, damaged, err
		}
		stored, err := w.s.readStored(e.loc, nil)
		if err == nil {
			_, err = w.s.codec.open(nil, e.id, stored)
		}
		if err != nil {
			w.s.log.Warn("damaged chunk left in place by prune", "chunk", e.id.String(), "pack", e.loc.Pack.String(), "err", err)
			damaged++
			continue
		}
		if err := w.append(e.id, stored, int(e.loc.RawLength)); err != nil {
			return moved, damaged, err
		}
		moved++
	}
	return moved, damaged, nil
}
