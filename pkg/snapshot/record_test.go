package snapshot

import (
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
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
	if err := Walk(ctx, st, missing, func(*Node) error { return nil }); !errors.Is(err, ErrIncomplete) ||
		!strings.Contains(err.Error(), chunk.Sum([]byte("absent")).Short()) {
		t.Errorf("walk of an absent manifest: err = %v, want ErrIncomplete naming the chunk", err)
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

// TestChunkRefDecoding checks that the direct parse of the encoder's own
// form and encoding/json agree, and that other forms still decode or fail
// as encoding/json says.
func TestChunkRefDecoding(t *testing.T) {
	id := chunk.Sum([]byte("x"))
	want := ChunkRef{ID: id, Offset: 1 << 40, Length: 65536}
	enc, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	h := id.String()
	for _, tc := range []struct {
		in   string
		want *ChunkRef // nil: must fail
	}{
		{string(enc), &want},
		{`{"id":"` + h + `","off":0,"len":7}`, &ChunkRef{ID: id, Length: 7}},
		{`{"len":7, "off":3, "id":"` + h + `"}`, &ChunkRef{ID: id, Offset: 3, Length: 7}},
		{`{"id":"` + strings.ToUpper(h) + `","off":1,"len":2}`, &ChunkRef{ID: id, Offset: 1, Length: 2}},
		{`{"id":"` + h + `","off":99999999999999999999,"len":2}`, nil},
		{`{"id":"` + h + `","off":-1,"len":2}`, &ChunkRef{ID: id, Offset: -1, Length: 2}},
		{`{"id":"` + h[:62] + `zz","off":1,"len":2}`, nil},
		{`{"id":"` + h + `","off":01,"len":2}`, nil},
		{`{"id":"` + h + `","off":1,"len":2}x`, nil},
	} {
		var got ChunkRef
		err := json.Unmarshal([]byte(tc.in), &got)
		switch {
		case tc.want == nil && err == nil:
			t.Errorf("%s: decoded to %+v, want an error", tc.in, got)
		case tc.want != nil && err != nil:
			t.Errorf("%s: %v", tc.in, err)
		case tc.want != nil && got != *tc.want:
			t.Errorf("%s: got %+v, want %+v", tc.in, got, *tc.want)
		}
	}
}

func TestCursor(t *testing.T) {
	paths := []string{".", "a", "a/x", "b", "b/c/d", "z"}
	i := 0
	next := func() (*Node, error) {
		if i == len(paths) {
			return nil, io.EOF
		}
		i++
		return &Node{Path: paths[i-1]}, nil
	}
	c := NewCursor(next)
	for _, tc := range []struct {
		path  string
		found bool
	}{{".", true}, {"a", true}, {"a/w", false}, {"a/x", true}, {"a/y", false}, {"b/c", false}, {"b/c/d", true}, {"c", false}, {"z", true}, {"zz", false}} {
		n := c.Find(tc.path)
		if (n != nil) != tc.found || (n != nil && n.Path != tc.path) {
			t.Errorf("Find(%q) = %v, want found %v", tc.path, n, tc.found)
		}
	}
	var none *Cursor
	if none.Find("a") != nil {
		t.Error("a nil cursor found a node")
	}
	broken := NewCursor(func() (*Node, error) { return nil, errors.New("damaged") })
	if broken.Find(".") != nil || broken.Find("a") != nil {
		t.Error("a cursor over a damaged manifest found a node")
	}
}
