package verify_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/understudy/understudy/agent/internal/backup"
	"github.com/understudy/understudy/agent/internal/restore"
	"github.com/understudy/understudy/agent/internal/verify"
	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
)

// setup backs up two datasets whose files land in separate packs (each
// file is one chunk, below the minimum chunk size, and larger than the pack
// size, so every chunk closes its pack), and returns the store directory,
// the records and the source directories.
func setup(t *testing.T) (string, []*snapshot.Record, []string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	key := bytes.Repeat([]byte{3}, 32)
	if err := store.Init(dir, store.InitOptions{Key: key}); err != nil {
		t.Fatal(err)
	}
	st := open(t, dir)
	defer st.Close()
	rng := rand.New(rand.NewPCG(7, 7))
	var recs []*snapshot.Record
	var srcs []string
	for d, name := range []string{"alpha", "beta"} {
		src := filepath.Join(t.TempDir(), name)
		for i := range 3 {
			data := make([]byte, 300<<10)
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
			p := filepath.Join(src, "f"+string(rune('0'+i)))
			os.MkdirAll(src, 0o755)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		rec, err := backup.Run(t.Context(), st, src, backup.Options{Dataset: name, PackSize: 256 << 10})
		if err != nil {
			t.Fatalf("backup %d: %v", d, err)
		}
		recs = append(recs, rec)
		srcs = append(srcs, src)
	}
	return dir, recs, srcs
}

func open(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(dir, store.Options{Key: bytes.Repeat([]byte{3}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// packOf returns the pack file holding the chunks of file f0 of the first
// dataset.
func packOf(t *testing.T, st *store.Store, rec *snapshot.Record, file string) string {
	t.Helper()
	var pack string
	err := snapshot.Walk(t.Context(), st, rec, func(n *snapshot.Node) error {
		if n.Path == file {
			locs, ok, err := st.Locate(t.Context(), []chunk.ID{n.Chunks[0].ID})
			if err != nil || !ok[0] {
				t.Fatalf("locate: %v", err)
			}
			p := locs[0].Pack.String()
			pack = filepath.Join(st.Dir(), "packs", p[:2], p+".pack")
		}
		return nil
	})
	if err != nil || pack == "" {
		t.Fatalf("no pack for %s: %v", file, err)
	}
	return pack
}

func TestVerifyNamesDamage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, pack string)
	}{
		{"flipped bit", func(t *testing.T, pack string) {
			b, _ := os.ReadFile(pack)
			b[100] ^= 0x10
			os.WriteFile(pack, b, 0o600)
		}},
		{"truncated pack", func(t *testing.T, pack string) {
			fi, _ := os.Stat(pack)
			os.Truncate(pack, fi.Size()/3)
		}},
		{"missing pack", func(t *testing.T, pack string) { os.Remove(pack) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, recs, srcs := setup(t)
			st := open(t, dir)
			defer st.Close()
			pack := packOf(t, st, recs[0], "f1")
			tc.damage(t, pack)
			st.Close()
			st = open(t, dir)
			defer st.Close()

			rep, err := verify.Run(t.Context(), st, verify.Options{ReadFraction: 1})
			if !errors.Is(err, verify.ErrDamaged) {
				t.Fatalf("verify: err = %v, want ErrDamaged", err)
			}
			base := strings.TrimSuffix(filepath.Base(pack), ".pack")
			if len(rep.DamagedPacks) != 1 || rep.DamagedPacks[0].Pack != base {
				t.Errorf("damaged packs = %+v, want just %s", rep.DamagedPacks, base)
			}
			if len(rep.DamagedSnapshots) != 1 || rep.DamagedSnapshots[0].ID != recs[0].ID || !slices.Equal(rep.DamagedSnapshots[0].Files, []string{"f1"}) {
				t.Errorf("damaged snapshots = %+v, want %s with file f1", rep.DamagedSnapshots, recs[0].ID)
			}

			// Restore fails for f1 only; everything else comes back.
			dst := filepath.Join(t.TempDir(), "dst")
			res, err := restore.Run(t.Context(), st, recs[0], dst, restore.Options{})
			if !errors.Is(err, restore.ErrDamaged) {
				t.Fatalf("restore: err = %v, want ErrDamaged", err)
			}
			if len(res.Damaged) != 1 || res.Damaged[0].Path != "f1" {
				t.Errorf("restore damaged = %+v, want f1", res.Damaged)
			}
			if _, err := os.Stat(filepath.Join(dst, "f1")); err == nil {
				t.Errorf("damaged file f1 left in the target")
			}
			for _, f := range []string{"f0", "f2"} {
				sameFile(t, filepath.Join(srcs[0], f), filepath.Join(dst, f))
			}
			dst2 := filepath.Join(t.TempDir(), "dst2")
			if _, err := restore.Run(t.Context(), st, recs[1], dst2, restore.Options{}); err != nil {
				t.Fatalf("restore of the undamaged dataset: %v", err)
			}
		})
	}
}

func TestVerifyTruncatedIndex(t *testing.T) {
	t.Parallel()
	dir, recs, srcs := setup(t)
	idx := filepath.Join(dir, "index.db")
	fi, _ := os.Stat(idx)
	if err := os.Truncate(idx, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	st := open(t, dir)
	defer st.Close()
	rep, err := verify.Run(t.Context(), st, verify.Options{ReadFraction: 1})
	if !errors.Is(err, verify.ErrDamaged) || rep.IndexError == "" {
		t.Fatalf("verify: err = %v, index error %q", err, rep.IndexError)
	}
	if len(rep.DamagedPacks) != 0 || len(rep.DamagedSnapshots) != 0 {
		t.Errorf("data reported lost with only the index damaged: %+v", rep)
	}
	// Nothing is lost: restore works from the pack trailers, and the next
	// writer rebuilds the index.
	for i, rec := range recs {
		dst := filepath.Join(t.TempDir(), "dst")
		if _, err := restore.Run(t.Context(), st, rec, dst, restore.Options{}); err != nil {
			t.Fatalf("restore %d with a damaged index: %v", i, err)
		}
		sameFile(t, filepath.Join(srcs[i], "f2"), filepath.Join(dst, "f2"))
	}
	if _, err := backup.Run(t.Context(), st, srcs[0], backup.Options{Dataset: "alpha"}); err != nil {
		t.Fatal(err)
	}
	st2 := open(t, dir)
	defer st2.Close()
	if rep, err := verify.Run(t.Context(), st2, verify.Options{ReadFraction: 1}); err != nil {
		t.Fatalf("verify after rebuild: %v %+v", err, rep)
	}
}

func TestVerifySubset(t *testing.T) {
	t.Parallel()
	dir, _, _ := setup(t)
	st := open(t, dir)
	defer st.Close()
	rep, err := verify.Run(t.Context(), st, verify.Options{ReadFraction: 0.5, Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		t.Fatal(err)
	}
	if rep.PacksRead == 0 || rep.PacksRead == rep.Packs {
		t.Errorf("read %d of %d packs with a 50%% subset", rep.PacksRead, rep.Packs)
	}
	rep, err = verify.Run(t.Context(), st, verify.Options{})
	if err != nil || rep.PacksRead != 0 {
		t.Errorf("structure-only check read %d packs, err %v", rep.PacksRead, err)
	}
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if !bytes.Equal(x, y) {
		t.Errorf("%s differs from %s", b, a)
	}
}
