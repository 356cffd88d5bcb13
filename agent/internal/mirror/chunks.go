package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
)

// offerBatch is how many chunk IDs go in one offer.
const offerBatch = 4096

// forEachBatch walks rec's manifest and calls fn with its file chunks,
// each once, in batches of at most offerBatch, then with the manifest's
// own chunks. Memory holds the set of IDs seen (32 bytes each).
func forEachBatch(ctx context.Context, st *store.Store, rec *snapshot.Record, fn func([]chunk.ID) error) error {
	seen := make(map[chunk.ID]struct{})
	batch := make([]chunk.ID, 0, offerBatch)
	add := func(id chunk.ID) error {
		if _, ok := seen[id]; ok {
			return nil
		}
		seen[id] = struct{}{}
		batch = append(batch, id)
		if len(batch) == offerBatch {
			err := fn(batch)
			batch = batch[:0]
			return err
		}
		return nil
	}
	err := walk(ctx, st, rec, func(n *snapshot.Node) error {
		for _, c := range n.Chunks {
			if err := add(c.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range rec.Tree {
		if err := add(id); err != nil {
			return err
		}
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}

// walk is snapshot.Walk with the manifest's chunks located in one index
// transaction rather than one per chunk (a manifest of a large dataset has
// hundreds of chunks, and both ends of a transfer walk it).
func walk(ctx context.Context, st *store.Store, rec *snapshot.Record, fn func(*snapshot.Node) error) error {
	locs, ok, err := st.Locate(ctx, rec.Tree)
	if err != nil {
		return err
	}
	for i, id := range rec.Tree {
		if !ok[i] {
			return fmt.Errorf("%w: snapshot %s needs %s", snapshot.ErrIncomplete, snapshot.ShortID(rec.ID), id.Short())
		}
	}
	d, err := snapshot.NewDecoder(&treeReader{ctx: ctx, st: st, ids: rec.Tree, locs: locs})
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", snapshot.ShortID(rec.ID), err)
	}
	for {
		n, err := d.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", snapshot.ShortID(rec.ID), err)
		}
		if err := fn(n); err != nil {
			return err
		}
	}
}

// treeReader concatenates located manifest chunks, each checked against
// its hash.
type treeReader struct {
	ctx  context.Context
	st   *store.Store
	ids  []chunk.ID
	locs []store.Location
	buf  []byte
	pos  int
}

func (r *treeReader) Read(p []byte) (int, error) {
	for r.pos >= len(r.buf) {
		if len(r.ids) == 0 {
			return 0, io.EOF
		}
		b, err := r.st.ReadAt(r.ids[0], r.locs[0], r.buf[:0])
		if errors.Is(err, fs.ErrNotExist) { // moved by a prune
			b, err = r.st.Get(r.ctx, r.ids[0], r.buf[:0])
		}
		if err != nil {
			return 0, fmt.Errorf("manifest chunk %s: %w", r.ids[0].Short(), err)
		}
		r.ids, r.locs = r.ids[1:], r.locs[1:]
		r.buf, r.pos = b, 0
	}
	n := copy(p, r.buf[r.pos:])
	r.pos += n
	return n, nil
}
