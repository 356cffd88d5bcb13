package archive_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/agent/internal/archive"
	"github.com/understudy/understudy/agent/internal/backup"
	"github.com/understudy/understudy/agent/internal/restore"
	"github.com/understudy/understudy/agent/internal/retention"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
)

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 99))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// readTree returns the regular files under dir by relative path.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, got, want map[string][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("restored %d files, want %d", len(got), len(want))
	}
	for p, w := range want {
		if g, ok := got[p]; !ok || !bytes.Equal(g, w) {
			t.Errorf("restored %s differs from the source (%d bytes, want %d)", p, len(g), len(w))
		}
	}
}

func newStore(t testing.TB, key []byte) *store.Store {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	if err := store.Init(dir, store.InitOptions{Key: key}); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(dir, store.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

type backendCase struct {
	name string
	key  []byte
	new  func(t testing.TB) archive.Backend
}

func backendCases() []backendCase {
	key := bytes.Repeat([]byte{7}, 32)
	return []backendCase{
		{"fs", nil, newFS},
		{"fs-encrypted", key, newFS},
		{"s3-encrypted", key, func(t testing.TB) archive.Backend { return versitygw(t).backend(t) }},
	}
}

// TestCopyRestoreFromArchiveAlone: two snapshots are archived, the second
// uploading only what changed; the local store is then deleted, and both
// snapshots restore byte for byte from the archive alone. Retention and
// prune on the archive drop the old snapshot's unique chunks, and the kept
// snapshot still restores.
func TestCopyRestoreFromArchiveAlone(t *testing.T) {
	t.Parallel()
	for _, bc := range backendCases() {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			b := bc.new(t)
			src := t.TempDir()
			for i := range 6 {
				writeFile(t, filepath.Join(src, "assets", string(rune('a'+i))+".bin"), randBytes(uint64(i), 40<<10))
			}
			writeFile(t, filepath.Join(src, "region.oar"), randBytes(100, 3<<20))
			writeFile(t, filepath.Join(src, "empty"), nil)
			st := newStore(t, bc.key)
			t0 := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)
			rec1, err := backup.Run(ctx, st, src, backup.Options{Dataset: "grid", Host: "host-a", Time: t0})
			if err != nil {
				t.Fatal(err)
			}
			want1 := readTree(t, src)
			s1, err := archive.Copy(ctx, st, b, archive.CopyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if s1.Snapshots != 1 || s1.Chunks == 0 || s1.ChunksPresent != 0 {
				t.Errorf("first copy stats = %+v", s1)
			}

			// Change one asset and the tail of the archive file.
			writeFile(t, filepath.Join(src, "assets", "c.bin"), randBytes(1000, 40<<10))
			oar := randBytes(100, 3<<20)
			copy(oar[len(oar)-100_000:], randBytes(1001, 100_000))
			writeFile(t, filepath.Join(src, "region.oar"), oar)
			rec2, err := backup.Run(ctx, st, src, backup.Options{Dataset: "grid", Host: "host-a", Time: t0.Add(24 * time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			want2 := readTree(t, src)
			s2, err := archive.Copy(ctx, st, b, archive.CopyOptions{Dataset: "grid"})
			if err != nil {
				t.Fatal(err)
			}
			if s2.Snapshots != 1 || s2.SnapshotsPresent != 1 || s2.Chunks == 0 || s2.ChunksPresent == 0 || s2.Chunks >= s1.Chunks {
				t.Errorf("second copy stats = %+v (first %+v): want only the changed chunks uploaded", s2, s1)
			}
			if s2.Chunks != int(rec2.Stats.ChunksNew) {
				t.Errorf("second copy uploaded %d chunks, the backup added %d", s2.Chunks, rec2.Stats.ChunksNew)
			}
			s3, err := archive.Copy(ctx, st, b, archive.CopyOptions{})
			if err != nil || s3.Snapshots != 0 || s3.Chunks != 0 || s3.SnapshotsPresent != 2 {
				t.Errorf("third copy = %+v, %v; want nothing to do", s3, err)
			}

			// No other copy left.
			st.Close()
			if err := os.RemoveAll(st.Dir()); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(src); err != nil {
				t.Fatal(err)
			}
			a, err := archive.Open(ctx, b, filepath.Join(t.TempDir(), "cache"), archive.OpenOptions{Key: bc.key})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			recs, err := a.Snapshots(ctx, "grid")
			if err != nil || len(recs) != 2 || recs[0].ID != rec1.ID || recs[1].ID != rec2.ID {
				t.Fatalf("archived snapshots = %v, %v", recs, err)
			}
			for i, want := range []map[string][]byte{want1, want2} {
				if err := a.Fetch(ctx, recs[i]); err != nil {
					t.Fatal(err)
				}
				target := filepath.Join(t.TempDir(), "restore")
				if _, err := restore.Run(ctx, a.Store(), recs[i], target, restore.Options{}); err != nil {
					t.Fatal(err)
				}
				sameTree(t, readTree(t, target), want)
			}

			// Keep the newest only, then prune.
			var snaps []retention.Snapshot
			for _, r := range recs {
				snaps = append(snaps, retention.Snapshot{ID: r.ID, Time: r.Time})
			}
			dec, err := retention.Apply(snaps, retention.Policy{Last: 1}, t0.Add(48*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			var forget []string
			for _, d := range dec {
				if !d.Keep {
					forget = append(forget, d.ID)
				}
			}
			if len(forget) != 1 || forget[0] != rec1.ID {
				t.Fatalf("retention forgets %v, want %s", forget, rec1.ID)
			}
			if err := a.Forget(ctx, forget); err != nil {
				t.Fatal(err)
			}
			ps, err := a.Prune(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ps.Chunks == 0 || ps.Kept == 0 {
				t.Errorf("prune stats = %+v: want the old snapshot's unique chunks deleted", ps)
			}
			a.Close()

			a2, err := archive.Open(ctx, b, filepath.Join(t.TempDir(), "cache2"), archive.OpenOptions{Key: bc.key})
			if err != nil {
				t.Fatal(err)
			}
			defer a2.Close()
			recs, err = a2.Snapshots(ctx, "")
			if err != nil || len(recs) != 1 || recs[0].ID != rec2.ID {
				t.Fatalf("after prune: snapshots %v, %v", recs, err)
			}
			if latest, err := a2.FetchLatest(ctx, "grid"); err != nil || latest.ID != rec2.ID {
				t.Fatalf("FetchLatest = %v, %v; want %s", latest, err, rec2.ID)
			}
			dr, err := restore.Drill(ctx, a2.Store(), "grid", t.TempDir(), restore.Options{})
			if err != nil {
				t.Fatalf("drill on the archive after prune: %v", err)
			}
			if dr.Files != int64(len(want2)) {
				t.Errorf("drill restored %d files, want %d", dr.Files, len(want2))
			}
		})
	}
}

// TestCopyRefusesOtherFamily: an archive written from one store refuses a
// store with another polynomial.
func TestCopyRefusesOtherFamily(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b := newFS(t)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "f"), randBytes(1, 1000))
	for i, want := range []error{nil, archive.ErrMismatch} {
		st := newStore(t, nil)
		if _, err := backup.Run(ctx, st, src, backup.Options{Dataset: "d", Host: "h"}); err != nil {
			t.Fatal(err)
		}
		if _, err := archive.Copy(ctx, st, b, archive.CopyOptions{}); !errors.Is(err, want) {
			t.Errorf("copy %d = %v, want %v", i, err, want)
		}
	}
}

// TestFetchDetectsDamage: a chunk damaged in the archive fails the fetch
// with an error naming the chunk, and a deleted one is reported missing.
func TestFetchDetectsDamage(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	root := t.TempDir()
	b, err := archive.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "world.db"), randBytes(5, 300<<10))
	st := newStore(t, nil)
	if _, err := backup.Run(ctx, st, src, backup.Options{Dataset: "d", Host: "h", Class: "transactional"}); err != nil {
		t.Fatal(err)
	}
	if _, err := archive.Copy(ctx, st, b, archive.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	var chunkFiles []string
	filepath.WalkDir(filepath.Join(root, "chunks"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			chunkFiles = append(chunkFiles, p)
		}
		return err
	})
	if len(chunkFiles) < 3 {
		t.Fatalf("archive holds %d chunks, want several", len(chunkFiles))
	}
	for _, p := range chunkFiles {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0x55
		writeFile(t, p, data)
	}
	a, err := archive.Open(ctx, b, t.TempDir(), archive.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	recs, err := a.Snapshots(ctx, "d")
	if err != nil || len(recs) != 1 {
		t.Fatalf("snapshots %v, %v", recs, err)
	}
	err = a.Fetch(ctx, recs[0])
	if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "chunk ") {
		t.Errorf("Fetch of a damaged archive = %v, want ErrCorrupt naming the chunk", err)
	}
	for _, p := range chunkFiles {
		os.Remove(p)
	}
	if err := a.Fetch(ctx, recs[0]); !errors.Is(err, archive.ErrDamaged) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Fetch with chunks deleted = %v, want ErrDamaged (missing)", err)
	}
}

// forgetOnPut is a backend that forgets a snapshot in the store the first
// time a chunk is uploaded, as a retention run beside the copy would.
type forgetOnPut struct {
	archive.Backend
	once   sync.Once
	forget func()
}

func (f *forgetOnPut) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if strings.HasPrefix(name, "chunks/") {
		f.once.Do(f.forget)
	}
	return f.Backend.Put(ctx, name, r, size)
}

// TestCopySkipsSnapshotForgottenMeanwhile: a snapshot forgotten while the
// copy runs is skipped and counted; the others are archived and the copy
// succeeds.
func TestCopySkipsSnapshotForgottenMeanwhile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := newStore(t, nil)
	src := t.TempDir()
	var recs []*snapshot.Record
	for i := range 3 {
		writeFile(t, filepath.Join(src, fmt.Sprintf("f%d", i)), randBytes(uint64(i), 100_000))
		rec, err := backup.Run(ctx, st, src, backup.Options{Dataset: "d", Host: "h"})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	b := &forgetOnPut{Backend: newFS(t), forget: func() {
		w, err := st.Lock(ctx, store.LockOptions{Wait: true})
		if err != nil {
			t.Error(err)
			return
		}
		defer w.Close()
		if err := snapshot.Delete(ctx, w, recs[0].ID); err != nil {
			t.Error(err)
		}
	}}
	stats, err := archive.Copy(ctx, st, b, archive.CopyOptions{})
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	if stats.Snapshots != 2 || stats.SnapshotsGone != 1 {
		t.Errorf("copied %d snapshots, skipped %d; want 2 and 1", stats.Snapshots, stats.SnapshotsGone)
	}
	for i, rec := range recs {
		_, err := b.Stat(ctx, "snapshots/"+rec.ID)
		if archived := err == nil; archived != (i > 0) {
			t.Errorf("snapshot %d archived: %v (%v)", i, archived, err)
		}
	}
}
