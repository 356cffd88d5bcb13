package restore_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/understudy/understudy/agent/internal/backup"
	"github.com/understudy/understudy/agent/internal/restore"
)

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestAtomicReplacesChangedFilesOnly checks that an atomic restore over a
// warm copy swaps each changed file for a new one in one rename (a reader
// holding the old file keeps the old bytes), leaves unchanged files alone
// and leaves no temporary files behind.
func TestAtomicReplacesChangedFilesOnly(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	src := fixedTree(t)
	st := newStore(t, nil)
	rec, err := backup.Run(ctx, st, src, backup.Options{Dataset: "ds"})
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	if _, err := restore.Run(ctx, st, rec, dst, restore.Options{Atomic: true}); err != nil {
		t.Fatal(err)
	}
	want, _ := describe(t, src)
	got, _ := describe(t, dst)
	diffTrees(t, want, got)

	// Change one file in the source; damage another in the copy.
	f, err := os.OpenFile(filepath.Join(src, "dir/sub/deep.bin"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("NEW BYTES"), 1000)
	f.Close()
	rec2, err := backup.Run(ctx, st, src, backup.Options{Dataset: "ds"})
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := os.OpenFile(filepath.Join(dst, "sparse"), os.O_RDWR, 0)
	sp.WriteAt([]byte("junk in a hole"), 100<<20)
	sp.Close()

	deep := filepath.Join(dst, "dir/sub/deep.bin")
	oldDeep, err := os.ReadFile(deep)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := os.Open(deep)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	deepIno, aIno := inode(t, deep), inode(t, filepath.Join(dst, "odd name \\ with\ttab"))

	res, err := restore.Run(ctx, st, rec2, dst, restore.Options{Atomic: true})
	if err != nil {
		t.Fatal(err)
	}
	want, _ = describe(t, src)
	got, _ = describe(t, dst)
	diffTrees(t, want, got)
	if inode(t, deep) == deepIno {
		t.Errorf("changed file rewritten in place, want a new file renamed over it")
	}
	if inode(t, filepath.Join(dst, "odd name \\ with\ttab")) != aIno {
		t.Errorf("unchanged file was replaced")
	}
	held := make([]byte, len(oldDeep))
	if _, err := reader.ReadAt(held, 0); err != nil || string(held) != string(oldDeep) {
		t.Errorf("a reader of the old file saw it change (err %v)", err)
	}
	if res.FilesUnchanged == 0 || res.BytesWritten == 0 {
		t.Errorf("result %+v: want some files unchanged and some bytes written", res)
	}
	filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if d != nil && strings.HasPrefix(d.Name(), ".understudy-tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}
