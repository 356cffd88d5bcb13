package restore_test

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"

	"github.com/understudy/understudy/pkg/store"
)

// tb is what the tree helpers need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Errorf(format string, args ...any)
}

// entry is what a round trip must preserve of one path.
type entry struct {
	typ    fs.FileMode
	mode   fs.FileMode
	uid    uint32
	gid    uint32
	mtime  int64 // files and directories only
	size   int64
	sum    string
	target string
	link   string // smallest other path sharing the inode
}

// describe captures a tree; blocks sums the allocated blocks of files.
func describe(t tb, root string) (map[string]entry, int64) {
	t.Helper()
	out := map[string]entry{}
	inodes := map[uint64][]string{}
	var blocks int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		e := entry{typ: fi.Mode().Type(), mode: fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky), uid: st.Uid, gid: st.Gid}
		switch {
		case fi.Mode().IsRegular():
			e.mtime = fi.ModTime().UnixNano()
			e.size = fi.Size()
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
			e.sum = fmt.Sprintf("%x", h.Sum(nil))
			blocks += st.Blocks
			if st.Nlink > 1 {
				inodes[st.Ino] = append(inodes[st.Ino], rel)
			}
		case fi.IsDir():
			e.mtime = fi.ModTime().UnixNano()
		case fi.Mode().Type() == fs.ModeSymlink:
			e.target, _ = os.Readlink(p)
		}
		if rel == "." {
			e.mtime = 0 // the target root's own mtime is the restore's
			e.mode = 0
			e.uid, e.gid = 0, 0
		}
		out[rel] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, names := range inodes {
		sort.Strings(names)
		for _, n := range names[1:] {
			e := out[n]
			e.link = names[0]
			out[n] = e
		}
	}
	return out, blocks
}

func diffTrees(t tb, want, got map[string]entry) {
	t.Helper()
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Errorf("%q missing after restore", p)
			continue
		}
		if g != w {
			t.Errorf("%q differs:\n got %+v\nwant %+v", p, g, w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%q restored but not in the source", p)
		}
	}
}

func newStore(t testing.TB, key []byte) *store.Store {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	if err := store.Init(dir, store.InitOptions{Key: key}); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(dir, store.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
