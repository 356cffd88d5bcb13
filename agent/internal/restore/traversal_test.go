package restore_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/understudy/understudy/agent/internal/restore"
	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
)

// craft commits a snapshot whose manifest holds exactly nodes; every file
// node gets the content "pwned".
func craft(t *testing.T, st *store.Store, nodes []*snapshot.Node) *snapshot.Record {
	t.Helper()
	ctx := t.Context()
	w, err := st.Lock(ctx, store.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	data := []byte("pwned")
	id := chunk.Sum(data)
	if _, err := w.Put(ctx, id, data); err != nil {
		t.Fatal(err)
	}
	tw, err := snapshot.NewTreeWriter(ctx, w, st.Polynomial())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Type == snapshot.TypeFile {
			n.Size = int64(len(data))
			n.Chunks = []snapshot.ChunkRef{{ID: id, Offset: 0, Length: int64(len(data))}}
		}
		if n.Mode == 0 {
			n.Mode = 0o755
		}
		if err := tw.Add(n); err != nil {
			t.Fatal(err)
		}
	}
	ids, _, err := tw.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rec := &snapshot.Record{Version: snapshot.RecordVersion, ID: snapshot.NewID(), Dataset: "evil", Time: time.Now(), Tree: ids}
	if err := snapshot.Save(ctx, w, rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestCraftedManifestsAreRefused(t *testing.T) {
	t.Parallel()
	root := &snapshot.Node{Path: ".", Type: snapshot.TypeDir}
	dir := func(p string) *snapshot.Node { return &snapshot.Node{Path: p, Type: snapshot.TypeDir} }
	file := func(p string) *snapshot.Node { return &snapshot.Node{Path: p, Type: snapshot.TypeFile} }
	link := func(p, target string) *snapshot.Node {
		return &snapshot.Node{Path: p, Type: snapshot.TypeSymlink, Target: target}
	}
	hard := func(p, to string) *snapshot.Node {
		return &snapshot.Node{Path: p, Type: snapshot.TypeHardlink, Link: to}
	}
	for _, tc := range []struct {
		name  string
		nodes func(outside string) []*snapshot.Node
	}{
		{"dot-dot", func(string) []*snapshot.Node { return []*snapshot.Node{root, file("../escape")} }},
		{"dot-dot inside", func(string) []*snapshot.Node { return []*snapshot.Node{root, dir("a"), file("a/../../escape")} }},
		{"absolute", func(o string) []*snapshot.Node { return []*snapshot.Node{root, file(filepath.Join(o, "abs"))} }},
		{"NUL in name", func(string) []*snapshot.Node { return []*snapshot.Node{root, file("a\x00b")} }},
		{"empty name", func(string) []*snapshot.Node { return []*snapshot.Node{root, dir("a"), file("a//b")} }},
		{"dot name", func(string) []*snapshot.Node { return []*snapshot.Node{root, file("./x")} }},
		{"through a symlink", func(o string) []*snapshot.Node {
			return []*snapshot.Node{root, link("l", o), file("l/pwned")}
		}},
		{"through a relative symlink", func(string) []*snapshot.Node {
			return []*snapshot.Node{root, link("l", ".."), dir("l/x")}
		}},
		{"repeated path turns into symlink", func(o string) []*snapshot.Node {
			return []*snapshot.Node{root, dir("d"), link("d", o), file("d/pwned")}
		}},
		{"parent missing", func(string) []*snapshot.Node { return []*snapshot.Node{root, file("nodir/f")} }},
		{"root not first", func(string) []*snapshot.Node { return []*snapshot.Node{file("f"), root} }},
		{"root is a symlink", func(o string) []*snapshot.Node { return []*snapshot.Node{link(".", o)} }},
		{"hard link out", func(string) []*snapshot.Node { return []*snapshot.Node{root, hard("h", "../../etc/passwd")} }},
		{"hard link absolute", func(string) []*snapshot.Node { return []*snapshot.Node{root, hard("h", "/etc/passwd")} }},
		{"hard link to a symlink", func(o string) []*snapshot.Node {
			return []*snapshot.Node{root, hard("a", "z"), link("z", o)}
		}},
		{"unknown type", func(string) []*snapshot.Node {
			return []*snapshot.Node{root, {Path: "dev", Type: "device"}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			target := filepath.Join(base, "target")
			os.Mkdir(outside, 0o755)
			st := newStore(t, nil)
			rec := craft(t, st, tc.nodes(outside))
			_, err := restore.Run(t.Context(), st, rec, target, restore.Options{})
			if !errors.Is(err, snapshot.ErrBadManifest) {
				t.Errorf("restore: err = %v, want a refusal (ErrBadManifest)", err)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Errorf("restore wrote outside the target: %v", ents)
			}
			ents, _ := os.ReadDir(base)
			if len(ents) > 2 {
				t.Errorf("restore created entries beside the target: %v", ents)
			}
			for _, p := range []string{"/etc/passwd"} {
				if b, _ := os.ReadFile(p); string(b) == "pwned" {
					t.Fatalf("%s overwritten", p)
				}
			}
		})
	}
}
