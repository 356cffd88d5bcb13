package restore_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/understudy/understudy/agent/internal/backup"
	"github.com/understudy/understudy/agent/internal/restore"
	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
)

func write(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

// fixedTree builds a small tree with every kind of entry.
func fixedTree(t testing.TB) string {
	src := filepath.Join(t.TempDir(), "src")
	write(t, filepath.Join(src, "a.txt"), []byte("hello"), 0o644)
	write(t, filepath.Join(src, "empty"), nil, 0o600)
	write(t, filepath.Join(src, "dir/sub/deep.bin"), bytes.Repeat([]byte("x1y2"), 300000), 0o755)
	write(t, filepath.Join(src, "odd name \\ with\ttab"), []byte("odd"), 0o640)
	if err := os.Symlink("a.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(src, "abs-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(src, "a.txt"), filepath.Join(src, "dir/hard")); err != nil {
		t.Fatal(err)
	}
	sp, err := os.Create(filepath.Join(src, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	sp.WriteAt([]byte("start"), 0)
	sp.WriteAt([]byte("middle"), 300<<20)
	sp.Truncate(512 << 20)
	sp.Close()
	if err := os.Chmod(filepath.Join(src, "dir"), 0o1750); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2020, 1, 2, 3, 4, 5, 600, time.UTC)
	os.Chtimes(filepath.Join(src, "dir/sub"), old, old)
	return src
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		key   []byte
		class chunk.Class
	}{{"plain", nil, chunk.ClassUser}, {"encrypted-transactional", bytes.Repeat([]byte{1}, 32), chunk.ClassTransactional}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			src := fixedTree(t)
			st := newStore(t, tc.key)
			rec, err := backup.Run(ctx, st, src, backup.Options{Dataset: "ds", Class: tc.class})
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(t.TempDir(), "dst")
			res, err := restore.Run(ctx, st, rec, dst, restore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			want, srcBlocks := describe(t, src)
			got, dstBlocks := describe(t, dst)
			diffTrees(t, want, got)
			if dstBlocks > srcBlocks+64 {
				t.Errorf("restored files use %d blocks, source %d: sparse file inflated", dstBlocks, srcBlocks)
			}
			if res.Files != rec.Stats.Files {
				t.Errorf("restored %d files, snapshot has %d", res.Files, rec.Stats.Files)
			}
			// Restoring again over the result rewrites nothing but the
			// hard-linked file (a file with several names is replaced, not
			// edited in place).
			res, err = restore.Run(ctx, st, rec, dst, restore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.BytesWritten > int64(len("hello")) || res.Removed != 0 {
				t.Errorf("second restore wrote %d bytes, removed %d", res.BytesWritten, res.Removed)
			}
			got, _ = describe(t, dst)
			diffTrees(t, want, got)
		})
	}
}

func TestRestoreOverExisting(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	src := fixedTree(t)
	st := newStore(t, nil)
	rec, err := backup.Run(ctx, st, src, backup.Options{Dataset: "ds"})
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	if _, err := restore.Run(ctx, st, rec, dst, restore.Options{}); err != nil {
		t.Fatal(err)
	}
	// Damage the copy in every way.
	f, _ := os.OpenFile(filepath.Join(dst, "dir/sub/deep.bin"), os.O_RDWR, 0)
	f.WriteAt([]byte("CHANGED"), 500000)
	f.Close()
	os.Remove(filepath.Join(dst, "a.txt"))
	os.Mkdir(filepath.Join(dst, "a.txt"), 0o755)
	write(t, filepath.Join(dst, "extra/file"), []byte("extra"), 0o644)
	os.Remove(filepath.Join(dst, "link"))
	os.Symlink("elsewhere", filepath.Join(dst, "link"))
	os.Chmod(filepath.Join(dst, "empty"), 0o777)
	sp, _ := os.OpenFile(filepath.Join(dst, "sparse"), os.O_RDWR, 0)
	sp.WriteAt([]byte("junk in a hole"), 100<<20)
	sp.Close()
	// A symlink planted where a directory belongs must not redirect writes.
	outside := t.TempDir()
	os.RemoveAll(filepath.Join(dst, "dir/sub"))
	os.Symlink(outside, filepath.Join(dst, "dir/sub"))

	res, err := restore.Run(ctx, st, rec, dst, restore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := describe(t, src)
	got, _ := describe(t, dst)
	diffTrees(t, want, got)
	if res.Removed == 0 {
		t.Errorf("extra entries not reported removed")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("restore wrote outside the target: %v", ents)
	}
}

func TestRestoreSubpathAndSelect(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	src := fixedTree(t)
	st := newStore(t, nil)
	t1 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	r1, err := backup.Run(ctx, st, src, backup.Options{Dataset: "ds", Time: t1})
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(src, "dir/sub/new"), []byte("new"), 0o644)
	r2, err := backup.Run(ctx, st, src, backup.Options{Dataset: "ds", Time: t1.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   time.Time
		want string
	}{{t1.Add(30 * time.Minute), r1.ID}, {t1.Add(time.Hour), r2.ID}, {time.Time{}, r2.ID}} {
		got, err := restore.Select(ctx, st, "ds", "", tc.at)
		if err != nil || got.ID != tc.want {
			t.Errorf("Select(at %v) = %v, %v; want %s", tc.at, got, err, tc.want)
		}
	}
	if _, err := restore.Select(ctx, st, "ds", "", t1.Add(-time.Hour)); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("Select before the first snapshot: err = %v", err)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	if _, err := restore.Run(ctx, st, r2, dst, restore.Options{Path: "dir/sub"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"dir/sub/new", "dir/sub/deep.bin"} {
		if _, err := os.Stat(filepath.Join(dst, p)); err != nil {
			t.Errorf("%s not restored: %v", p, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dst, "a.txt")); err == nil {
		t.Errorf("a.txt restored outside --path")
	}
	// A hard link whose first name lies outside --path is restored as a
	// copy of the data.
	dst2 := filepath.Join(t.TempDir(), "dst2")
	if _, err := restore.Run(ctx, st, r2, dst2, restore.Options{Path: "dir"}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst2, "dir/hard")); err != nil || string(b) != "hello" {
		t.Errorf("dir/hard = %q, %v; want the linked file's data", b, err)
	}
	if _, err := restore.Run(ctx, st, r2, dst, restore.Options{Path: "nope"}); !errors.Is(err, restore.ErrPathNotFound) {
		t.Errorf("missing path: err = %v", err)
	}
}
