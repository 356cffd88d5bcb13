package mirror

import (
	"context"
	"io"

	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
)

// offerBatch is how many chunk IDs go in one offer.
const offerBatch = 4096

// batcher hands chunk IDs to fn in batches of at most offerBatch, each ID
// once. Memory holds the set of IDs seen (32 bytes each).
type batcher struct {
	seen  map[chunk.ID]struct{}
	batch []chunk.ID
	fn    func([]chunk.ID) error
}

func newBatcher(fn func([]chunk.ID) error) *batcher {
	return &batcher{seen: make(map[chunk.ID]struct{}), batch: make([]chunk.ID, 0, offerBatch), fn: fn}
}

func (b *batcher) add(id chunk.ID) error {
	if _, ok := b.seen[id]; ok {
		return nil
	}
	b.seen[id] = struct{}{}
	b.batch = append(b.batch, id)
	if len(b.batch) == offerBatch {
		err := b.fn(b.batch)
		b.batch = b.batch[:0]
		return err
	}
	return nil
}

func (b *batcher) flush() error {
	if len(b.batch) == 0 {
		return nil
	}
	err := b.fn(b.batch)
	b.batch = b.batch[:0]
	return err
}

// forEachBatch walks rec's manifest and calls fn with its file chunks,
// each once, in batches of at most offerBatch, then with the manifest's
// own chunks.
func forEachBatch(ctx context.Context, st *store.Store, rec *snapshot.Record, fn func([]chunk.ID) error) error {
	b := newBatcher(fn)
	err := snapshot.Walk(ctx, st, rec, func(n *snapshot.Node) error {
		for _, c := range n.Chunks {
			if err := b.add(c.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range rec.Tree {
		if err := b.add(id); err != nil {
			return err
		}
	}
	return b.flush()
}

// forEachDelta is forEachBatch for a receiver that holds base (in practice
// rec's parent): it hands fn only the chunks of rec that base does not
// reference at the same path, and the manifest chunks base's manifest
// lacks. Unchanged files cost a comparison of their chunk lists; a
// database file with a few rewritten pages costs its new chunks. Both
// manifests are walked in step, in their common path order. A base whose
// manifest cannot be read counts as empty.
func forEachDelta(ctx context.Context, st *store.Store, base, rec *snapshot.Record, fn func([]chunk.ID) error) error {
	bd, err := snapshot.OpenTree(ctx, st, base)
	if err != nil {
		// The base's manifest is damaged or incomplete here: compare
		// with nothing.
		return forEachBatch(ctx, st, rec, fn)
	}
	next, stop := decodeAhead(bd)
	defer stop()
	cur := snapshot.NewCursor(next)
	b := newBatcher(fn)
	err = snapshot.Walk(ctx, st, rec, func(n *snapshot.Node) error {
		old := cur.Find(n.Path)
		if len(n.Chunks) == 0 || (old != nil && sameChunks(n.Chunks, old.Chunks)) {
			return nil
		}
		var had map[chunk.ID]struct{}
		if old != nil {
			had = make(map[chunk.ID]struct{}, len(old.Chunks))
			for _, c := range old.Chunks {
				had[c.ID] = struct{}{}
			}
		}
		for _, c := range n.Chunks {
			if _, ok := had[c.ID]; ok {
				continue
			}
			if err := b.add(c.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	had := make(map[chunk.ID]struct{}, len(base.Tree))
	for _, id := range base.Tree {
		had[id] = struct{}{}
	}
	for _, id := range rec.Tree {
		if _, ok := had[id]; ok {
			continue
		}
		if err := b.add(id); err != nil {
			return err
		}
	}
	return b.flush()
}

func sameChunks(a, b []snapshot.ChunkRef) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID {
			return false
		}
	}
	return true
}

// decodeAhead decodes d in a goroutine of its own, so that comparing two
// manifests decodes both side by side, and returns a function yielding
// the nodes (io.EOF after the last one, or after a read error: what
// follows then counts as new) and one that stops the goroutine.
func decodeAhead(d *snapshot.Decoder) (next func() (*snapshot.Node, error), stop func()) {
	nodes := make(chan *snapshot.Node, 256)
	done := make(chan struct{})
	go func() {
		defer close(nodes)
		for {
			n, err := d.Next()
			if err != nil {
				return
			}
			select {
			case nodes <- n:
			case <-done:
				return
			}
		}
	}()
	next = func() (*snapshot.Node, error) {
		n, ok := <-nodes
		if !ok {
			return nil, io.EOF
		}
		return n, nil
	}
	return next, func() { close(done) }
}
