package verify

import (
	"context"
	"errors"
	"math/rand/v2"
	"sort"

	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
)

// Options configure a check.
type Options struct {
	// ReadFraction of the packs (0..1) are read back and every chunk in them
	// re-hashed; 1 reads all, 0 checks structure only.
	ReadFraction float64
	// Rand picks the packs to read; nil means a random source.
	Rand *rand.Rand
}

// PackDamage names a damaged pack.
type PackDamage struct {
	Pack   string `json:"pack"`
	Error  string `json:"error"`
	Chunks int    `json:"chunks_lost"`
}

// SnapshotDamage names a snapshot that cannot be fully restored.
type SnapshotDamage struct {
	ID      string `json:"id"`
	Dataset string `json:"dataset"`
	// Error is set when the snapshot's record or manifest itself is
	// unreadable (then no file can be restored).
	Error string `json:"error,omitempty"`
	// Files lists the files with missing or damaged chunks.
	Files []string `json:"files,omitempty"`
}

// Report is the outcome of a check.
type Report struct {
	IndexError        string           `json:"index_error,omitempty"`
	Packs             int              `json:"packs"`
	PacksRead         int              `json:"packs_read"`
	ChunksRead        int              `json:"chunks_read"`
	Snapshots         int              `json:"snapshots"`
	DamagedPacks      []PackDamage     `json:"damaged_packs,omitempty"`
	MissingChunks     int              `json:"missing_chunks"`
	DamagedSnapshots  []SnapshotDamage `json:"damaged_snapshots,omitempty"`
	UnreferencedPacks int              `json:"unindexed_packs"`
}

// OK reports whether nothing is damaged.
func (r *Report) OK() bool {
	return r.IndexError == "" && len(r.DamagedPacks) == 0 && r.MissingChunks == 0 && len(r.DamagedSnapshots) == 0
}

// ErrDamaged is returned (with the report) when the check found damage.
var ErrDamaged = errors.New("verify: the store is damaged")

// Run checks st. The error wraps [ErrDamaged] when the report is not OK;
// other errors mean the check itself could not run.
func Run(ctx context.Context, st *store.Store, opts Options) (*Report, error) {
	rng := opts.Rand
	if rng == nil {
		rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	frac := opts.ReadFraction
	cr, err := st.Check(ctx, func(store.PackID) bool {
		return frac >= 1 || (frac > 0 && rng.Float64() < frac)
	})
	if err != nil {
		return nil, err
	}
	rep := &Report{Packs: cr.Packs, PacksRead: cr.PacksRead, ChunksRead: cr.ChunksRead, UnreferencedPacks: len(cr.Unindexed)}
	if cr.IndexErr != nil {
		rep.IndexError = cr.IndexErr.Error()
	}
	for _, p := range cr.Problems {
		rep.DamagedPacks = append(rep.DamagedPacks, PackDamage{Pack: p.Pack.String(), Error: p.Err.Error(), Chunks: len(p.Chunks)})
	}
	missing := map[chunk.ID]struct{}{}
	bad := func(id chunk.ID) bool {
		if _, ok := cr.Bad[id]; ok {
			return true
		}
		if _, ok := cr.Chunks[id]; !ok {
			missing[id] = struct{}{}
			return true
		}
		return false
	}
	recs, lerr := snapshot.List(ctx, st, "")
	if lerr != nil {
		rep.DamagedSnapshots = append(rep.DamagedSnapshots, SnapshotDamage{Error: lerr.Error()})
	}
	rep.Snapshots = len(recs)
	for _, rec := range recs {
		d := SnapshotDamage{ID: rec.ID, Dataset: rec.Dataset}
		for _, id := range rec.Tree {
			if bad(id) {
				d.Error = "manifest chunk " + id.Short() + " is missing or damaged"
			}
		}
		if d.Error == "" {
			err := snapshot.Walk(ctx, st, rec, func(n *snapshot.Node) error {
				for _, c := range n.Chunks {
					if bad(c.ID) {
						d.Files = append(d.Files, n.Path)
						break
					}
				}
				return nil
			})
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				d.Error = err.Error()
			}
		}
		if d.Error != "" || len(d.Files) > 0 {
			rep.DamagedSnapshots = append(rep.DamagedSnapshots, d)
		}
	}
	rep.MissingChunks = len(missing)
	sort.Slice(rep.DamagedPacks, func(i, j int) bool { return rep.DamagedPacks[i].Pack < rep.DamagedPacks[j].Pack })
	if !rep.OK() {
		return rep, ErrDamaged
	}
	return rep, nil
}
