package snapshot

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/store"
)

func TestSaveLoadList(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "s")
	if err := store.Init(dir, store.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w, err := st.Lock(ctx, store.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	missing := &Record{Version: RecordVersion, ID: NewID(), Dataset: "d", Time: time.Now(), Tree: []chunk.ID{chunk.Sum([]byte("absent"))}}
	if err := Save(ctx, w, missing); !errors.Is(err, ErrIncomplete) {
		t.Errorf("save with absent manifest: err = %v, want ErrIncomplete", err)
	}
	tw, err := NewTreeWriter(ctx, w, st.Polynomial())
	if err != nil {
		t.Fatal(err)
	}
	tw.Add(&Node{Path: ".", Type: TypeDir, Mode: 0o755})
	ids, _, err := tw.Close()
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []*Record
	for i := range 3 {
		r := &Record{Version: RecordVersion, ID: NewID(), Dataset: "d", Time: base.Add(time.Duration(2-i) * time.Hour), Tree: ids}
		if err := Save(ctx, w, r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	list, err := List(ctx, st, "d")
	if err != nil || len(list) != 3 || list[0].ID != recs[2].ID || list[2].ID != recs[0].ID {
		t.Fatalf("List = %v, %v; want oldest first", list, err)
	}
	got, err := Load(ctx, st, recs[1].ID[:8])
	if err != nil || got.ID != recs[1].ID {
		t.Errorf("Load by prefix: %v, %v", got, err)
	}
	if _, err := Load(ctx, st, "ffffffff"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load unknown: %v", err)
	}
	if l, err := Latest(list, base.Add(90*time.Minute)); err != nil || l.ID != recs[1].ID {
		t.Errorf("Latest at 01:30 = %v, %v", l, err)
	}
	if err := Delete(ctx, w, recs[0].ID); err != nil {
		t.Fatal(err)
	}
	if list, _ := List(ctx, st, ""); len(list) != 2 {
		t.Errorf("after delete: %d records", len(list))
	}
}
