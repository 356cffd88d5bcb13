package restore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
)

// Options configure a restore.
type Options struct {
	// Path restricts the restore to one file or directory of the snapshot
	// (slash-separated, relative to the dataset root). It is restored at
	// the same relative place in the target, under its parent directories.
	Path string
	// Workers restoring files in parallel; zero means twice GOMAXPROCS:
	// creating a file and setting its metadata block in the filesystem
	// (journal, directory locks) without using a core, so more workers
	// than cores keep the cores busy.
	Workers int
	// QuickCheck trusts an existing target file whose size and mtime match
	// the snapshot instead of hashing it.
	QuickCheck bool
	// Atomic replaces each file that differs from the snapshot in one
	// step: the new content is written to a temporary file beside it,
	// synced and renamed over it, so a reader (or a service promoted while
	// the standby's warm copy is being updated) sees either the old file or
	// the new one, never a mix. Unchanged files are left in place.
	Atomic bool
	// Progress, if set, is updated as files complete.
	Progress *Progress
	Logger   *slog.Logger
}

// Progress counts restored files and bytes; totals are known up front.
type Progress struct {
	FilesDone  atomic.Int64
	BytesDone  atomic.Int64
	FilesTotal atomic.Int64
	BytesTotal atomic.Int64
}

// FileError names a file that could not be restored.
type FileError struct {
	Path string
	Err  error
}

// Result reports what a restore did.
type Result struct {
	Snapshot  string `json:"snapshot"`
	Files     int64  `json:"files"`
	Dirs      int64  `json:"dirs"`
	Symlinks  int64  `json:"symlinks"`
	Hardlinks int64  `json:"hardlinks"`
	Bytes     int64  `json:"bytes"`
	// BytesWritten counts file bytes actually written; FilesUnchanged
	// were already equal to the snapshot.
	BytesWritten   int64         `json:"bytes_written"`
	FilesUnchanged int64         `json:"files_unchanged"`
	Removed        int64         `json:"removed"`
	Duration       time.Duration `json:"duration_ns"`
	Damaged        []FileError   `json:"-"`
}

// Errors of Run.
var (
	// ErrDamaged: some files could not be restored because their chunks
	// are missing or damaged; Result.Damaged names them.
	ErrDamaged = errors.New("restore: some files could not be restored")
	// ErrPathNotFound: Options.Path names nothing in the snapshot.
	ErrPathNotFound = errors.New("restore: path not in snapshot")
)

// Select picks a dataset's snapshot: by ID (or unique prefix) when id is
// set, else the latest taken at or before at (zero: the latest).
func Select(ctx context.Context, st *store.Store, dataset, id string, at time.Time) (*snapshot.Record, error) {
	if id != "" {
		rec, err := snapshot.Load(ctx, st, id)
		if err != nil {
			return nil, err
		}
		if dataset != "" && rec.Dataset != dataset {
			return nil, fmt.Errorf("%w: %s belongs to dataset %q", snapshot.ErrNotFound, snapshot.ShortID(rec.ID), rec.Dataset)
		}
		return rec, nil
	}
	recs, err := snapshot.List(ctx, st, dataset)
	if len(recs) == 0 && err != nil {
		return nil, err
	}
	return snapshot.Latest(recs, at)
}

// Run restores rec into target (created if missing), making the target
// (or, with Options.Path, that part of it) equal to the snapshot. The
// standby's warm copy calls it with each new snapshot. When files are
// damaged it restores the rest and returns the result with an error
// wrapping [ErrDamaged].
func Run(ctx context.Context, st *store.Store, rec *snapshot.Record, target string, opts Options) (*Result, error) {
	start := time.Now()
	if opts.Workers <= 0 {
		opts.Workers = 2 * runtime.GOMAXPROCS(0)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	sub := strings.Trim(opts.Path, "/")
	if sub == "" {
		sub = "."
	}
	if err := snapshot.ValidPath(sub); err != nil {
		return nil, fmt.Errorf("restore: --path: %w", err)
	}
	if err := os.MkdirAll(target, 0o700); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	root, err := os.OpenRoot(target)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer root.Close()
	r := &restorer{st: st, root: root, opts: opts, sub: sub, res: &Result{Snapshot: rec.ID},
		seen: map[string]snapshot.NodeType{}, prog: opts.Progress}
	if r.prog == nil {
		r.prog = &Progress{}
	}
	if sub == "." {
		r.prog.FilesTotal.Store(rec.Stats.Files + rec.Stats.Hardlinks)
		r.prog.BytesTotal.Store(rec.Stats.Bytes)
	}
	if err := r.run(ctx, rec); err != nil {
		return nil, err
	}
	r.res.Duration = time.Since(start)
	if len(r.res.Damaged) > 0 {
		sort.Slice(r.res.Damaged, func(i, j int) bool { return r.res.Damaged[i].Path < r.res.Damaged[j].Path })
		return r.res, fmt.Errorf("%w: %d damaged (first: %s: %v)", ErrDamaged, len(r.res.Damaged), r.res.Damaged[0].Path, r.res.Damaged[0].Err)
	}
	return r.res, nil
}

type restorer struct {
	st   *store.Store
	root *os.Root
	opts Options
	sub  string
	prog *Progress

	// seen maps every restored path to its type; used to check parents
	// and hard links, and to find extras in the target. Written by the
	// manifest walk only.
	seen  map[string]snapshot.NodeType
	dirs  []*snapshot.Node
	links []*snapshot.Node
	last  string // previous manifest path, for the order check

	// mu guards res.
	mu  sync.Mutex
	res *Result
}

// selected reports whether p is inside the restored part of the snapshot;
// ancestor reports whether it is a directory above it.
func (r *restorer) selected(p string) (in, ancestor bool) {
	if r.sub == "." || p == r.sub || strings.HasPrefix(p, r.sub+"/") {
		return true, false
	}
	return false, p == "." || strings.HasPrefix(r.sub, p+"/")
}

func parentOf(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "."
	}
	return p[:i]
}

func (r *restorer) damaged(path string, err error) {
	r.mu.Lock()
	r.res.Damaged = append(r.res.Damaged, FileError{Path: path, Err: err})
	r.mu.Unlock()
}

// fileBatch is a group of files whose chunk locations were looked up in one
// index transaction.
type fileBatch struct {
	nodes []*snapshot.Node
	locs  map[chunk.ID]store.Location
}

const (
	batchFiles  = 256
	batchChunks = 4096
)

func (r *restorer) run(ctx context.Context, rec *snapshot.Record) error {
	targetWasEmpty := r.isEmpty()
	g, gctx := errgroup.WithContext(ctx)
	batches := make(chan *fileBatch, 2)
	for range r.opts.Workers {
		g.Go(func() error {
			var wb workBufs
			defer wb.closeDir()
			for b := range batches {
				for _, n := range b.nodes {
					if err := gctx.Err(); err != nil {
						return err
					}
					r.restoreFile(gctx, n, b.locs, &wb)
				}
			}
			return nil
		})
	}
	var walkErr error
	func() {
		defer close(batches)
		cur := &fileBatch{}
		nchunks := 0
		flush := func() error {
			if len(cur.nodes) == 0 {
				return nil
			}
			if err := r.locate(gctx, cur); err != nil {
				return err
			}
			select {
			case batches <- cur:
			case <-gctx.Done():
				return gctx.Err()
			}
			cur, nchunks = &fileBatch{}, 0
			return nil
		}
		found := false
		walkErr = snapshot.Walk(gctx, r.st, rec, func(n *snapshot.Node) error {
			if err := r.check(n); err != nil {
				return err
			}
			in, anc := r.selected(n.Path)
			if !in && !anc {
				return nil
			}
			if in {
				found = true
			}
			if anc && n.Type != snapshot.TypeDir {
				return nil
			}
			r.seen[n.Path] = n.Type
			switch n.Type {
			case snapshot.TypeDir:
				return r.makeDir(n)
			case snapshot.TypeSymlink:
				return r.makeSymlink(n)
			case snapshot.TypeHardlink:
				r.links = append(r.links, n)
				return nil
			case snapshot.TypeFile:
				cur.nodes = append(cur.nodes, n)
				nchunks += len(n.Chunks)
				if len(cur.nodes) >= batchFiles || nchunks >= batchChunks {
					return flush()
				}
			}
			return nil
		})
		if walkErr == nil {
			walkErr = flush()
		}
		if walkErr == nil && !found {
			walkErr = fmt.Errorf("%w: %q", ErrPathNotFound, r.sub)
		}
	}()
	if err := g.Wait(); err != nil && walkErr == nil {
		walkErr = err
	}
	if walkErr != nil {
		return walkErr
	}
	if err := r.makeLinks(ctx, rec); err != nil {
		return err
	}
	if !targetWasEmpty {
		if err := r.removeExtras(); err != nil {
			return err
		}
	}
	return r.finishDirs()
}

// check refuses manifest entries that could redirect writes: paths out of
// walk order (or repeated), and entries whose parent is not a directory of
// the snapshot.
func (r *restorer) check(n *snapshot.Node) error {
	if r.last != "" && snapshot.Compare(r.last, n.Path) >= 0 {
		return fmt.Errorf("%w: %q after %q (out of order or repeated)", snapshot.ErrUnsafePath, n.Path, r.last)
	}
	if r.last == "" && n.Path != "." {
		return fmt.Errorf("%w: manifest does not start at the root", snapshot.ErrBadManifest)
	}
	if n.Path == "." && n.Type != snapshot.TypeDir {
		return fmt.Errorf("%w: the root is not a directory", snapshot.ErrBadManifest)
	}
	r.last = n.Path
	if n.Path == "." {
		return nil
	}
	if in, anc := r.selected(parentOf(n.Path)); in || anc {
		if t, ok := r.seen[parentOf(n.Path)]; !ok || t != snapshot.TypeDir {
			return fmt.Errorf("%w: %q: parent is not a directory of the snapshot", snapshot.ErrUnsafePath, n.Path)
		}
	}
	return nil
}

func (r *restorer) isEmpty() bool {
	f, err := r.root.Open(".")
	if err != nil {
		return false
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) == 0
}

func (r *restorer) locate(ctx context.Context, b *fileBatch) error {
	var ids []chunk.ID
	for _, n := range b.nodes {
		for _, c := range n.Chunks {
			ids = append(ids, c.ID)
		}
	}
	locs, ok, err := r.st.Locate(ctx, ids)
	if err != nil {
		return err
	}
	b.locs = make(map[chunk.ID]store.Location, len(ids))
	for i, id := range ids {
		if ok[i] {
			b.locs[id] = locs[i]
		}
	}
	return nil
}

// clear removes whatever is at name unless keep approves it.
func (r *restorer) clear(name string, keep func(fs.FileInfo) bool) (exists bool, err error) {
	return clearIn(r.root, name, keep)
}

// clearIn is clear for name under root.
func clearIn(root *os.Root, name string, keep func(fs.FileInfo) bool) (exists bool, err error) {
	fi, err := root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("restore: %w", err)
	}
	if keep(fi) {
		return true, nil
	}
	if err := root.RemoveAll(name); err != nil {
		return false, fmt.Errorf("restore: replace %s: %w", name, err)
	}
	return false, nil
}

func (r *restorer) makeDir(n *snapshot.Node) error {
	r.res.Dirs++
	r.dirs = append(r.dirs, n)
	if n.Path == "." {
		return nil
	}
	exists, err := r.clear(n.Path, func(fi fs.FileInfo) bool { return fi.IsDir() })
	if err != nil || exists {
		return err
	}
	if err := r.root.Mkdir(n.Path, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

func (r *restorer) makeSymlink(n *snapshot.Node) error {
	r.res.Symlinks++
	exists, err := r.clear(n.Path, func(fi fs.FileInfo) bool {
		if fi.Mode().Type() != fs.ModeSymlink {
			return false
		}
		t, err := r.root.Readlink(n.Path)
		return err == nil && t == n.Target
	})
	if err != nil {
		return err
	}
	if !exists {
		if err := r.root.Symlink(n.Target, n.Path); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	return r.chown(n, true)
}

func (r *restorer) chown(n *snapshot.Node, link bool) error {
	if os.Geteuid() != 0 {
		return nil
	}
	var err error
	if link {
		err = r.root.Lchown(n.Path, int(n.UID), int(n.GID))
	} else {
		err = r.root.Chown(n.Path, int(n.UID), int(n.GID))
	}
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

func fileMode(u uint32) fs.FileMode {
	m := fs.FileMode(u & 0o777)
	if u&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if u&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if u&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// setMeta sets owner, mode and mtime of a file or directory.
func (r *restorer) setMeta(n *snapshot.Node) error {
	if err := r.chown(n, false); err != nil {
		return err
	}
	if err := r.root.Chmod(n.Path, fileMode(n.Mode)); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	mt := time.Unix(0, n.MTime)
	if err := r.root.Chtimes(n.Path, mt, mt); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// finishDirs sets directory metadata deepest first, after their contents
// are written (a read-only directory would refuse them otherwise).
func (r *restorer) finishDirs() error {
	for _, n := range slices.Backward(r.dirs) {
		if err := r.setMeta(n); err != nil {
			return err
		}
	}
	return nil
}

// makeLinks creates hard links after every file exists. A link whose file
// lies outside the restored part is restored as a copy of that file's data.
func (r *restorer) makeLinks(ctx context.Context, rec *snapshot.Record) error {
	var orphans []*snapshot.Node
	for _, n := range r.links {
		r.res.Hardlinks++
		t, ok := r.seen[n.Link]
		if !ok {
			orphans = append(orphans, n)
			continue
		}
		if t != snapshot.TypeFile || snapshot.Compare(n.Link, n.Path) >= 0 {
			return fmt.Errorf("%w: hard link %q to %q", snapshot.ErrUnsafePath, n.Path, n.Link)
		}
		if _, err := r.clear(n.Path, func(fs.FileInfo) bool { return false }); err != nil {
			return err
		}
		if _, err := r.root.Lstat(n.Link); err != nil {
			r.damaged(n.Path, fmt.Errorf("linked file %s not restored", n.Link))
			continue
		}
		if err := r.root.Link(n.Link, n.Path); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		r.prog.FilesDone.Add(1)
	}
	if len(orphans) == 0 {
		return nil
	}
	want := map[string][]*snapshot.Node{}
	for _, n := range orphans {
		want[n.Link] = append(want[n.Link], n)
	}
	b := &fileBatch{}
	err := snapshot.Walk(ctx, r.st, rec, func(n *snapshot.Node) error {
		for _, l := range want[n.Path] {
			if n.Type != snapshot.TypeFile {
				return fmt.Errorf("%w: hard link %q to %q", snapshot.ErrUnsafePath, l.Path, l.Link)
			}
			c := *n // a copy of the data under the link's name
			c.Path = l.Path
			b.nodes = append(b.nodes, &c)
			r.seen[l.Path] = snapshot.TypeFile
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := r.locate(ctx, b); err != nil {
		return err
	}
	var wb workBufs
	for _, n := range b.nodes {
		r.restoreFile(ctx, n, b.locs, &wb)
	}
	return nil
}

// removeExtras deletes target entries the snapshot does not have (within
// the restored part).
func (r *restorer) removeExtras() error {
	var extras []string
	err := fs.WalkDir(r.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		in, anc := r.selected(p)
		if _, ok := r.seen[p]; ok || anc {
			return nil
		}
		if in {
			extras = append(extras, p)
		}
		if d.IsDir() {
			return fs.SkipDir
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore: scan target: %w", err)
	}
	for _, p := range extras {
		if err := r.root.RemoveAll(p); err != nil {
			return fmt.Errorf("restore: remove %s: %w", p, err)
		}
		r.res.Removed++
	}
	return nil
}
