package prune

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/understudy/understudy/agent/internal/retention"
	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
)

// Options configure [Forget].
type Options struct {
	Policy retention.Policy
	// Dataset limits forget to one dataset; empty means all.
	Dataset string
	Now     time.Time
	DryRun  bool
	// Prune removes unused data after forgetting.
	Prune bool
	// WaitLock waits for a running backup instead of failing.
	WaitLock bool
	Logger   *slog.Logger
}

// Group is the decision for one dataset and host.
type Group struct {
	Dataset   string               `json:"dataset"`
	Host      string               `json:"host"`
	Decisions []retention.Decision `json:"decisions"`
}

// Result reports a forget (and prune).
type Result struct {
	Groups  []Group           `json:"groups"`
	Kept    int               `json:"kept"`
	Removed int               `json:"removed"`
	Prune   *store.PruneStats `json:"prune,omitempty"`
	DryRun  bool              `json:"dry_run"`
}

// Forget removes the snapshots the policy does not keep and, with
// Options.Prune, the data only they used.
func Forget(ctx context.Context, st *store.Store, opts Options) (*Result, error) {
	if err := opts.Policy.Validate(); err != nil {
		return nil, err
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	w, err := st.Lock(ctx, store.LockOptions{Wait: opts.WaitLock})
	if err != nil {
		return nil, err
	}
	defer w.Close()
	recs, err := snapshot.List(ctx, st, opts.Dataset)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	groups := map[[2]string][]retention.Snapshot{}
	for _, r := range recs {
		k := [2]string{r.Dataset, r.Host}
		groups[k] = append(groups[k], retention.Snapshot{ID: r.ID, Time: r.Time})
	}
	keys := make([][2]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	res := &Result{DryRun: opts.DryRun}
	for _, k := range keys {
		ds, err := retention.Apply(groups[k], opts.Policy, opts.Now)
		if err != nil {
			return nil, err
		}
		res.Groups = append(res.Groups, Group{Dataset: k[0], Host: k[1], Decisions: ds})
		for _, d := range ds {
			if d.Keep {
				res.Kept++
				continue
			}
			res.Removed++
			if !opts.DryRun {
				if err := snapshot.Delete(ctx, w, d.ID); err != nil {
					return nil, err
				}
			}
		}
	}
	if opts.Prune {
		ps, err := pruneLocked(ctx, st, w, opts.DryRun, removedSet(res))
		if err != nil {
			return res, err
		}
		res.Prune = &ps
	}
	return res, nil
}

func removedSet(res *Result) map[string]bool {
	m := map[string]bool{}
	for _, g := range res.Groups {
		for _, d := range g.Decisions {
			if !d.Keep {
				m[d.ID] = true
			}
		}
	}
	return m
}

// Prune removes data no snapshot uses.
func Prune(ctx context.Context, st *store.Store, dryRun, waitLock bool) (store.PruneStats, error) {
	w, err := st.Lock(ctx, store.LockOptions{Wait: waitLock})
	if err != nil {
		return store.PruneStats{}, err
	}
	defer w.Close()
	return pruneLocked(ctx, st, w, dryRun, nil)
}

// pruneLocked collects the chunks of every snapshot (except those in
// forgotten, for a dry run that did not delete them) and prunes the rest.
func pruneLocked(ctx context.Context, st *store.Store, w *store.Writer, dryRun bool, forgotten map[string]bool) (store.PruneStats, error) {
	recs, err := snapshot.List(ctx, st, "")
	if err != nil {
		return store.PruneStats{}, fmt.Errorf("prune: refusing to prune, a snapshot record is unreadable: %w", err)
	}
	used := map[chunk.ID]struct{}{}
	for _, rec := range recs {
		if forgotten[rec.ID] {
			continue
		}
		for _, id := range rec.Tree {
			used[id] = struct{}{}
		}
		err := snapshot.Walk(ctx, st, rec, func(n *snapshot.Node) error {
			for _, c := range n.Chunks {
				used[c.ID] = struct{}{}
			}
			return nil
		})
		if err != nil {
			return store.PruneStats{}, fmt.Errorf("prune: refusing to prune, snapshot %s is unreadable: %w", snapshot.ShortID(rec.ID), err)
		}
	}
	return w.Prune(ctx, func(id chunk.ID) bool { _, ok := used[id]; return ok }, store.PruneOptions{DryRun: dryRun})
}
