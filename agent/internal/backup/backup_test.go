package backup_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/agent/internal/backup"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
)

func newStore(t testing.TB) *store.Store {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	if err := store.Init(dir, store.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// readCounter counts the files a backup opens.
type readCounter struct {
	mu    sync.Mutex
	paths []string
}

func (c *readCounter) open(p string) (*os.File, error) {
	c.mu.Lock()
	c.paths = append(c.paths, p)
	c.mu.Unlock()
	return os.Open(p)
}

func (c *readCounter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.paths
	c.paths = nil
	return p
}

func TestIncrementalReadsOnlyChangedFiles(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	src := t.TempDir()
	for i := range 20 {
		p := filepath.Join(src, "d", string(rune('a'+i)))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, bytes.Repeat([]byte{byte(i)}, 1000+i), 0o644)
	}
	st := newStore(t)
	var rc readCounter
	opts := backup.Options{Dataset: "ds", Open: rc.open}
	r1, err := backup.Run(ctx, st, src, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(rc.take()); got != 20 {
		t.Fatalf("first backup opened %d files, want 20", got)
	}
	r2, err := backup.Run(ctx, st, src, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := rc.take(); len(got) != 0 {
		t.Fatalf("unchanged backup opened %v", got)
	}
	if r2.Parent != r1.ID || r2.Stats.FilesUnchanged != 20 || r2.Stats.BytesRead != 0 {
		t.Errorf("second backup: parent %s, stats %+v", r2.Parent, r2.Stats)
	}
	// Change one file in place, same size, and put its mtime back: the
	// ctime still gives it away.
	p := filepath.Join(src, "d", "c")
	fi, _ := os.Stat(p)
	f, _ := os.OpenFile(p, os.O_WRONLY, 0)
	f.WriteAt([]byte{0xff}, 10)
	f.Close()
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
	r3, err := backup.Run(ctx, st, src, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := rc.take(); len(got) != 1 || got[0] != p {
		t.Fatalf("after an in-place change the backup opened %v, want just %s", got, p)
	}
	if r3.Stats.FilesRead != 1 || r3.Stats.ChunksNew < 1 {
		t.Errorf("third backup stats %+v", r3.Stats)
	}
	// With --force nothing is trusted.
	if _, err := backup.Run(ctx, st, src, backup.Options{Dataset: "ds", Open: rc.open, NoParent: true}); err != nil {
		t.Fatal(err)
	}
	if got := len(rc.take()); got != 20 {
		t.Errorf("forced backup opened %d files, want 20", got)
	}
	recs, err := snapshot.List(ctx, st, "ds")
	if err != nil || len(recs) != 4 {
		t.Fatalf("list: %d records, %v", len(recs), err)
	}
}

func TestBackupRefusesBadInput(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	for name, tc := range map[string]struct {
		path string
		opts backup.Options
	}{
		"not a dir":   {f, backup.Options{Dataset: "x"}},
		"no dataset":  {t.TempDir(), backup.Options{}},
		"bad class":   {t.TempDir(), backup.Options{Dataset: "x", Class: "nope"}},
		"missing dir": {filepath.Join(t.TempDir(), "nope"), backup.Options{Dataset: "x"}},
	} {
		if _, err := backup.Run(t.Context(), st, tc.path, tc.opts); err == nil {
			t.Errorf("%s: backup succeeded", name)
		}
	}
}

func TestBackupWaitsForLock(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	w, err := st.Lock(t.Context(), store.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Run(t.Context(), st, src, backup.Options{Dataset: "x"}); err == nil {
		t.Fatal("backup ran while another writer held the lock")
	}
	done := make(chan error, 1)
	go func() {
		_, err := backup.Run(t.Context(), st, src, backup.Options{Dataset: "x", WaitLock: true})
		done <- err
	}()
	w.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("backup did not get the lock after it was released")
	}
}

func TestAppendedFileStoresOnlyNewBytes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	src := t.TempDir()
	log := filepath.Join(src, "server.log")
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(i * 7 % 251)
	}
	os.WriteFile(log, data, 0o644)
	st := newStore(t)
	r1, err := backup.Run(ctx, st, src, backup.Options{Dataset: "logs", Class: "log"})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	extra := bytes.Repeat([]byte("new line of the log\n"), 5000) // 100 000 bytes
	f.Write(extra)
	f.Close()
	r2, err := backup.Run(ctx, st, src, backup.Options{Dataset: "logs", Class: "log"})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Stats.ChunksNew > 2 || r2.Stats.BytesNew > int64(len(extra))+64<<10 {
		t.Errorf("appending %d bytes stored %d new bytes in %d chunks", len(extra), r2.Stats.BytesNew, r2.Stats.ChunksNew)
	}
	n1, n2 := fileNode(t, st, r1, "server.log"), fileNode(t, st, r2, "server.log")
	if len(n2.Chunks) <= len(n1.Chunks) {
		t.Fatalf("appended file has %d chunks, before %d", len(n2.Chunks), len(n1.Chunks))
	}
	for i, c := range n1.Chunks {
		if n2.Chunks[i] != c {
			t.Errorf("chunk %d of the old content changed", i)
		}
	}
	if n2.Size != int64(len(data)+len(extra)) {
		t.Errorf("size %d", n2.Size)
	}
}

func fileNode(t *testing.T, st *store.Store, rec *snapshot.Record, path string) *snapshot.Node {
	t.Helper()
	var out *snapshot.Node
	if err := snapshot.Walk(t.Context(), st, rec, func(n *snapshot.Node) error {
		if n.Path == path {
			out = n
		}
		return nil
	}); err != nil || out == nil {
		t.Fatalf("%s not in snapshot: %v", path, err)
	}
	return out
}

func TestStoreInsideDatasetIsSkipped(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "data"), []byte("data"), 0o644)
	dir := filepath.Join(src, "backups")
	if err := store.Init(dir, store.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec, err := backup.Run(t.Context(), st, src, backup.Options{Dataset: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Stats.Files != 1 || rec.Stats.Dirs != 1 {
		t.Errorf("snapshot holds %d files, %d dirs; want only data and the root", rec.Stats.Files, rec.Stats.Dirs)
	}
}

// TestDatabasePageRewriteStoresLittle backs up a database file, rewrites
// scattered 16 KiB pages in place and checks that the second backup stores
// a few pages' worth per rewritten page, with page-sized chunks.
func TestDatabasePageRewriteStoresLittle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	src := t.TempDir()
	db := filepath.Join(src, "world.db")
	const page = 16 << 10
	r := rand.New(rand.NewPCG(5, 6))
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	os.WriteFile(db, data, 0o644)
	st := newStore(t)
	if _, err := backup.Run(ctx, st, src, backup.Options{Dataset: "grid"}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(db, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	pages := r.Perm(len(data) / page)[:8]
	for _, pg := range pages {
		p := make([]byte, page)
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		f.WriteAt(p, int64(pg*page))
	}
	f.Close()
	r2, err := backup.Run(ctx, st, src, backup.Options{Dataset: "grid"})
	if err != nil {
		t.Fatal(err)
	}
	if per := r2.Stats.BytesNew / int64(len(pages)); per > 4*page {
		t.Errorf("a rewritten page stored %d new bytes, want at most %d", per, 4*page)
	}
	for _, c := range fileNode(t, st, r2, "world.db").Chunks {
		if c.Length > 64<<10 {
			t.Errorf("database chunk of %d bytes, want at most 64 KiB", c.Length)
		}
	}
}

// TestStoppedBackupClosesItsFiles: files are opened ahead of the readers
// (to start reading them early); when a backup is cancelled or fails
// midway, every file it opened is closed all the same.
func TestStoppedBackupClosesItsFiles(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	for i := range 200 {
		os.WriteFile(filepath.Join(src, fmt.Sprintf("f%03d", i)), bytes.Repeat([]byte{byte(i)}, 70_000), 0o644)
	}
	for _, stop := range []string{"cancel", "open error"} {
		t.Run(stop, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var (
				mu     sync.Mutex
				opened []*os.File
			)
			open := func(p string) (*os.File, error) {
				mu.Lock()
				defer mu.Unlock()
				if len(opened) == 30 {
					if stop == "cancel" {
						cancel()
					} else {
						return nil, errors.New("injected open failure")
					}
				}
				f, err := os.Open(p)
				if err == nil {
					opened = append(opened, f)
				}
				return f, err
			}
			_, err := backup.Run(ctx, newStore(t), src, backup.Options{Dataset: "ds", Open: open})
			if err == nil {
				t.Fatal("backup succeeded")
			}
			mu.Lock()
			defer mu.Unlock()
			if len(opened) < 30 {
				t.Fatalf("only %d files opened", len(opened))
			}
			for _, f := range opened {
				if f.Fd() != ^uintptr(0) {
					t.Errorf("%s left open", f.Name())
				}
			}
		})
	}
}
