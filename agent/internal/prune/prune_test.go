package prune_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/understudy/understudy/agent/internal/backup"
	"github.com/understudy/understudy/agent/internal/prune"
	"github.com/understudy/understudy/agent/internal/restore"
	"github.com/understudy/understudy/agent/internal/retention"
	"github.com/understudy/understudy/agent/internal/verify"
	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
)

func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

func TestForgetPruneKeepsExactlyThePolicy(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "store")
	if err := store.Init(dir, store.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 5))
	base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	// Ten daily snapshots; each rewrites one file with fresh random data,
	// so every snapshot owns some chunks of its own.
	var recs []*snapshot.Record
	for day := range 10 {
		data := make([]byte, 300<<10)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		os.WriteFile(filepath.Join(src, "changing"), data, 0o644)
		os.WriteFile(filepath.Join(src, "day"+string(rune('0'+day))), data[:1000], 0o644)
		rec, err := backup.Run(ctx, st, src, backup.Options{Dataset: "ds", Time: base.Add(time.Duration(day) * 24 * time.Hour), PackSize: 128 << 10})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	policy := retention.Policy{Last: 2, Weekly: 2}
	now := base.Add(10 * 24 * time.Hour)
	var snaps []retention.Snapshot
	for _, r := range recs {
		snaps = append(snaps, retention.Snapshot{ID: r.ID, Time: r.Time})
	}
	ds, _ := retention.Apply(snaps, policy, now)
	var want []string
	for _, d := range ds {
		if d.Keep {
			want = append(want, d.ID)
		}
	}
	slices.Sort(want)

	before := dirSize(t, filepath.Join(dir, "packs"))
	dry, err := prune.Forget(ctx, st, prune.Options{Policy: policy, Now: now, DryRun: true, Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := snapshot.List(ctx, st, ""); len(got) != 10 || dirSize(t, filepath.Join(dir, "packs")) != before {
		t.Fatalf("dry run changed the store")
	}
	if dry.Removed != 10-len(want) || dry.Prune.ChunksUnused == 0 {
		t.Errorf("dry run: removed %d, unused chunks %d", dry.Removed, dry.Prune.ChunksUnused)
	}
	res, err := prune.Forget(ctx, st, prune.Options{Policy: policy, Now: now, Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	left, err := snapshot.List(ctx, st, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range left {
		got = append(got, r.ID)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("kept %v, want %v", got, want)
	}
	if res.Prune.ChunksUnused != dry.Prune.ChunksUnused {
		t.Errorf("prune removed %d chunks, the dry run predicted %d", res.Prune.ChunksUnused, dry.Prune.ChunksUnused)
	}
	after := dirSize(t, filepath.Join(dir, "packs"))
	if after >= before {
		t.Errorf("packs grew or stayed: %d → %d bytes", before, after)
	}
	if rep, err := verify.Run(ctx, st, verify.Options{ReadFraction: 1}); err != nil {
		t.Fatalf("verify after prune: %v %+v", err, rep)
	}
	for _, r := range left {
		dst := filepath.Join(t.TempDir(), "dst")
		if _, err := restore.Run(ctx, st, r, dst, restore.Options{}); err != nil {
			t.Fatalf("restore kept snapshot %s: %v", r.ID, err)
		}
		if err := restore.Compare(ctx, st, r, dst); err != nil {
			t.Fatal(err)
		}
	}
	// A second prune finds nothing more to do.
	ps, err := prune.Prune(ctx, st, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if ps.ChunksUnused != 0 || ps.PacksDeleted != 0 {
		t.Errorf("second prune: %+v", ps)
	}
}

func TestPruneRemovesLeftoversOfInterruptedBackup(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "store")
	store.Init(dir, store.InitOptions{})
	st, _ := store.Open(dir, store.Options{})
	defer st.Close()
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "keep"), []byte("kept data"), 0o644)
	if _, err := backup.Run(ctx, st, src, backup.Options{Dataset: "ds"}); err != nil {
		t.Fatal(err)
	}
	// An interrupted backup: chunks flushed, no snapshot record.
	w, err := st.Lock(ctx, store.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	orphan := []byte("written by a backup that never finished")
	if _, err := w.Put(ctx, chunk.Sum(orphan), orphan); err != nil {
		t.Fatal(err)
	}
	w.Flush(ctx)
	w.Close()
	ps, err := prune.Prune(ctx, st, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if ps.ChunksUnused != 1 {
		t.Errorf("prune removed %d chunks, want the 1 orphan", ps.ChunksUnused)
	}
	if ok, _ := st.Has(ctx, chunk.Sum(orphan)); ok {
		t.Errorf("orphan chunk still present")
	}
	if rep, err := verify.Run(ctx, st, verify.Options{ReadFraction: 1}); err != nil {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}

func TestPruneWaitsForBackup(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "store")
	store.Init(dir, store.InitOptions{})
	st, _ := store.Open(dir, store.Options{})
	defer st.Close()
	w, err := st.Lock(t.Context(), store.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := prune.Prune(t.Context(), st, false, false); err == nil {
		t.Fatal("prune ran while a backup held the writer lock")
	}
}
