package restore_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/understudy/understudy/agent/internal/backup"
	"github.com/understudy/understudy/agent/internal/restore"
	"github.com/understudy/understudy/pkg/chunk"
)

// nameGen draws file names, odd ones included: spaces, backslashes,
// newlines, leading dashes and dots, non-ASCII, invalid UTF-8, long names.
func nameGen() *rapid.Generator[string] {
	return rapid.OneOf(
		rapid.SampledFrom([]string{"a", "b", "data.db", "-dash", ".hidden", "..dots", "sp ace", "back\\slash", "new\nline", "tab\t", "ünï", "\xff\xfe", "*?[", "%s"}),
		rapid.StringMatching(`[a-z0-9._-]{1,12}`),
		rapid.Just(string(make([]byte, 0))+fmt.Sprintf("%0255d", 7)),
	)
}

var modes = []os.FileMode{0o644, 0o600, 0o755, 0o400, 0o000, 0o777 | os.ModeSetuid, 0o750 | os.ModeSetgid, 0o777 | os.ModeSticky}

// buildTree draws a random tree under root.
func buildTree(t *rapid.T, root string) {
	dirs := []string{root}
	var files []string
	n := rapid.IntRange(0, 14).Draw(t, "entries")
	for i := range n {
		parent := rapid.SampledFrom(dirs).Draw(t, "parent")
		name := nameGen().Draw(t, "name")
		p := filepath.Join(parent, name)
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		mt := time.Unix(rapid.Int64Range(0, 4e9).Draw(t, "mtime"), rapid.Int64Range(0, 999999999).Draw(t, "nsec"))
		switch kind := rapid.IntRange(0, 9).Draw(t, fmt.Sprintf("kind%d", i)); {
		case kind <= 1: // directory
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			dirs = append(dirs, p)
			defer os.Chtimes(p, mt, mt) // after its contents
			defer os.Chmod(p, rapid.SampledFrom([]os.FileMode{0o755, 0o700, 0o555, 0o1777}).Draw(t, "dirmode"))
			continue
		case kind <= 5: // small file
			data := rapid.SliceOfN(rapid.Byte(), 0, 3000).Draw(t, "data")
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
		case kind == 6: // big sparse file with a few data islands
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			size := rapid.Int64Range(1, 64<<20).Draw(t, "sparse size")
			for range rapid.IntRange(0, 3).Draw(t, "islands") {
				off := rapid.Int64Range(0, size-1).Draw(t, "off")
				f.WriteAt(rapid.SliceOfN(rapid.Byte(), 1, 70000).Draw(t, "island"), off)
			}
			f.Truncate(size)
			f.Close()
		case kind == 7: // symlink, possibly dangling or absolute
			target := rapid.SampledFrom([]string{"a", "../x", "/etc/passwd", "nowhere/at/all", name}).Draw(t, "target")
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		case kind == 8 && len(files) > 0: // hard link to an earlier file
			if err := os.Link(rapid.SampledFrom(files).Draw(t, "link to"), p); err != nil {
				t.Fatal(err)
			}
			continue
		default: // compressible medium file
			size := rapid.IntRange(0, 300000).Draw(t, "size")
			data := make([]byte, size)
			for j := range data {
				data[j] = byte(j / 1000)
			}
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		files = append(files, p)
		os.Chmod(p, rapid.SampledFrom(modes).Draw(t, "mode"))
		os.Chtimes(p, mt, mt)
	}
}

func TestPropertyRoundTrip(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("modes like 0000 and setuid need root to read back")
	}
	st := newStore(t, []byte("0123456789abcdef0123456789abcdef"))
	rapid.Check(t, func(rt *rapid.T) {
		base, err := os.MkdirTemp("", "understudy-prop-")
		if err != nil {
			rt.Fatal(err)
		}
		defer os.RemoveAll(base)
		src := filepath.Join(base, "src")
		os.Mkdir(src, 0o755)
		buildTree(rt, src)
		class := rapid.SampledFrom([]chunk.Class{chunk.ClassUser, chunk.ClassTransactional}).Draw(rt, "class")
		rec, err := backup.Run(t.Context(), st, src, backup.Options{Dataset: "prop", Class: class, NoParent: true})
		if err != nil {
			rt.Fatal(err)
		}
		dst := filepath.Join(base, "dst")
		if _, err := restore.Run(t.Context(), st, rec, dst, restore.Options{}); err != nil {
			rt.Fatal(err)
		}
		want, srcBlocks := describe(rt, src)
		got, dstBlocks := describe(rt, dst)
		diffTrees(rt, want, got)
		if dstBlocks > srcBlocks+256 {
			rt.Errorf("restored tree uses %d blocks, source %d (sparse files inflated)", dstBlocks, srcBlocks)
		}
	})
}
