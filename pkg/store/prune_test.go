package store

import (
	"bytes"
	"testing"

	"github.com/understudy/understudy/pkg/chunk"
)

func TestPruneRepacksMostlyEmptyPacks(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, testKey())
	ctx := t.Context()
	w, err := s.Lock(ctx, LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var ids []chunk.ID
	var datas [][]byte
	for i := range 10 {
		d := randomData(uint64(100+i), 20000, false)
		id := chunk.Sum(d)
		if _, err := w.Put(ctx, id, d); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		datas = append(datas, d)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	packs, _ := s.ListPacks(ctx)
	if len(packs) != 1 {
		t.Fatalf("%d packs, want 1", len(packs))
	}
	keep := map[chunk.ID]bool{ids[2]: true, ids[7]: true}
	used := func(id chunk.ID) bool { return keep[id] }
	dry, err := w.Prune(ctx, used, PruneOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if dry.ChunksUnused != 8 || dry.PacksRepacked != 1 {
		t.Errorf("dry run: %+v", dry)
	}
	if after, _ := s.ListPacks(ctx); len(after) != 1 {
		t.Fatalf("dry run changed packs")
	}
	st, err := w.Prune(ctx, used, PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.ChunksMoved != 2 || st.PacksRepacked != 1 || st.BytesFreed <= 0 {
		t.Errorf("prune: %+v", st)
	}
	after, _ := s.ListPacks(ctx)
	for p := range packs {
		if _, ok := after[p]; ok {
			t.Errorf("old pack %s still indexed", p)
		}
	}
	files, _ := listPackFiles(s.Dir())
	if len(files) != 1 {
		t.Errorf("%d pack files on disk, want 1", len(files))
	}
	for i, id := range ids {
		got, err := s.Get(ctx, id, nil)
		if keep[id] {
			if err != nil || !bytes.Equal(got, datas[i]) {
				t.Errorf("kept chunk %d: %v", i, err)
			}
		} else if err == nil {
			t.Errorf("pruned chunk %d still readable", i)
		}
	}
	// The writer's dedup set forgot the pruned chunks: putting one again
	// stores it again.
	if n, err := w.Put(ctx, ids[0], datas[0]); err != nil || n == 0 {
		t.Errorf("re-put of a pruned chunk stored %d bytes, err %v", n, err)
	}
}
