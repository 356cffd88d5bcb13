package mirror

import (
	"context"

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
	err := snapshot.Walk(ctx, st, rec, func(n *snapshot.Node) error {
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
