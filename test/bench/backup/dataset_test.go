//go:build bench

package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestDatasetDeterministicAndChangeCounted generates the smallest dataset
// twice from one seed, checks the copies are identical, mutates one and
// checks that the mutation's count of changed bytes equals a byte-by-byte
// comparison of the two trees.
func TestDatasetDeterministicAndChangeCounted(t *testing.T) {
	const size, seed = 64 << 20, 7
	a, b := t.TempDir(), t.TempDir()
	if _, err := generate(a, size, seed); err != nil {
		t.Fatal(err)
	}
	db, err := generate(b, size, seed)
	if err != nil {
		t.Fatal(err)
	}
	da, _, na, err := treeDigest(a)
	if err != nil {
		t.Fatal(err)
	}
	dbd, _, _, err := treeDigest(b)
	if err != nil {
		t.Fatal(err)
	}
	if da != dbd {
		t.Fatal("two datasets from one seed differ")
	}
	if na < size {
		t.Errorf("dataset has %d bytes, want at least %d", na, size)
	}
	m, err := db.mutate(size)
	if err != nil {
		t.Fatal(err)
	}
	var changed int64
	err = filepath.WalkDir(b, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(b, p)
		next, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		prev, _ := os.ReadFile(filepath.Join(a, rel)) // nil for new files
		changed += diff(prev, next)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if changed != m.Changed {
		t.Errorf("mutation counted %d changed bytes, the trees differ in %d", m.Changed, changed)
	}
	if m.Pages == 0 || m.LogBytes == 0 || m.ArchiveBytes == 0 || m.AssetBytes == 0 || m.ConfigBytes == 0 {
		t.Errorf("mutation left a kind of data unchanged: %+v", m)
	}
	if root, err := findRoot(b); err != nil || root != b {
		t.Errorf("findRoot = %q, %v", root, err)
	}
}
