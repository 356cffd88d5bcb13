package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
)

// Options configure one backup.
type Options struct {
	Dataset string
	Class   chunk.Class // default user
	Host    string      // default os.Hostname
	Tags    []string
	// Parent is the snapshot to compare with; empty means the latest
	// snapshot of the same dataset and host. NoParent reads every file.
	Parent   string
	NoParent bool
	// Time stamps the snapshot; zero means now.
	Time time.Time
	// Workers is the number of file readers and of compressors; zero
	// means GOMAXPROCS.
	Workers int
	// InFlight bounds the chunk bytes between reading and packing; zero
	// means 32 MiB.
	InFlight int64
	// WaitLock waits for another writer instead of failing.
	WaitLock bool
	// PackSize closes packs at this size; zero means the store's default.
	PackSize int64
	// Progress, if set, is updated as the backup runs (and a scan for
	// totals runs alongside).
	Progress *Progress
	// Open opens a file for reading; nil means the default (O_NOATIME
	// where allowed). Tests count reads through it.
	Open   func(path string) (*os.File, error)
	Logger *slog.Logger
}

// ErrNotDir is returned when the dataset path is not a directory.
var ErrNotDir = errors.New("backup: dataset path is not a directory")

func (o *Options) defaults() error {
	if o.Dataset == "" {
		return errors.New("backup: dataset name is empty")
	}
	if o.Class == "" {
		o.Class = chunk.ClassUser
	}
	if err := o.Class.Validate(); err != nil {
		return err
	}
	if o.Host == "" {
		o.Host, _ = os.Hostname()
	}
	if o.Time.IsZero() {
		o.Time = time.Now()
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.InFlight <= 0 {
		o.InFlight = 32 << 20
	}
	if o.Open == nil {
		o.Open = openNoAtime
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func openNoAtime(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|noatime, 0)
	if err != nil && noatime != 0 {
		return os.Open(path)
	}
	return f, err
}

// Run backs up the directory root into st and returns the committed
// snapshot record.
func Run(ctx context.Context, st *store.Store, root string, opts Options) (*snapshot.Record, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	start := time.Now()
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s", ErrNotDir, abs)
	}
	parent, err := findParent(ctx, st, &opts)
	if err != nil {
		return nil, err
	}
	w, err := st.Lock(ctx, store.LockOptions{Wait: opts.WaitLock, PackSize: opts.PackSize})
	if err != nil {
		return nil, err
	}
	defer w.Close()

	// The parent's manifest is walked in step with the dataset.
	var cursor *snapshot.Cursor
	if parent != nil {
		d, err := snapshot.OpenTree(ctx, st, parent)
		if err != nil {
			opts.Logger.Warn("parent snapshot unreadable, reading every file", "snapshot", parent.ID, "err", err)
			parent = nil
		} else {
			cursor = snapshot.NewCursor(d.Next)
		}
	}
	tw, err := snapshot.NewTreeWriter(ctx, w, st.Polynomial())
	if err != nil {
		return nil, err
	}
	storeDir, _ := filepath.Abs(st.Dir())
	b := &run{
		opts: opts, root: abs, storeDir: storeDir, w: w, pol: st.Polynomial(), parent: cursor,
		sem:   semaphore.NewWeighted(opts.InFlight),
		items: make(chan *item, 1024),
		jobs:  make(chan *item, 4*opts.Workers),
		puts:  make(chan putReq, 2*opts.Workers),
		links: map[devIno]string{},
	}
	stats, err := b.execute(ctx, tw)
	if err != nil {
		tw.Abort()
		return nil, err
	}
	treeIDs, _, err := tw.Close()
	if err != nil {
		return nil, err
	}
	if err := w.Flush(ctx); err != nil {
		return nil, err
	}
	ws := w.Stats()
	stats.ChunksNew = ws.Chunks
	stats.BytesNew = ws.RawBytes
	stats.BytesAdded = ws.StoredBytes
	stats.Seconds = time.Since(start).Seconds()
	rec := &snapshot.Record{
		Version: snapshot.RecordVersion,
		ID:      snapshot.NewID(),
		Dataset: opts.Dataset,
		Host:    opts.Host,
		Class:   opts.Class,
		Time:    opts.Time.UTC(),
		Tags:    opts.Tags,
		Source:  abs,
		Tree:    treeIDs,
		Stats:   stats,
	}
	if parent != nil {
		rec.Parent = parent.ID
	}
	if err := snapshot.Save(ctx, w, rec); err != nil {
		return nil, err
	}
	opts.Logger.Info("snapshot committed", "dataset", rec.Dataset, "snapshot", rec.ID, "files", stats.Files, "bytes_added", stats.BytesAdded)
	return rec, nil
}

func findParent(ctx context.Context, st *store.Store, o *Options) (*snapshot.Record, error) {
	if o.NoParent {
		return nil, nil
	}
	if o.Parent != "" {
		return snapshot.Load(ctx, st, o.Parent)
	}
	recs, err := snapshot.List(ctx, st, o.Dataset)
	if err != nil && len(recs) == 0 {
		o.Logger.Warn("snapshot records unreadable, no parent", "err", err)
	}
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Host == o.Host {
			return recs[i], nil
		}
	}
	return nil, nil
}

// run is the state of one backup.
type run struct {
	opts Options
	root string
	// storeDir is skipped when the store lies inside the dataset.
	storeDir string
	w        *store.Writer
	pol      chunk.Polynomial
	parent   *snapshot.Cursor
	sem      *semaphore.Weighted
	items    chan *item  // every node, in walk order
	jobs     chan *item  // files to read
	puts     chan putReq // chunks to store
	links    map[devIno]string
	stats    snapshot.Stats
	// bytesRead counts file bytes read by the readers.
	bytesRead atomic.Int64
}

type devIno struct{ dev, ino uint64 }

// item is one node on its way to the manifest; for files that must be
// read, done is closed when node.Chunks is final (or err is set).
type item struct {
	node *snapshot.Node
	path string // on disk
	// grown is the parent's node of a file that got larger: maybe only
	// appended to (logs, write-ahead logs).
	grown *snapshot.Node
	// f is the file, opened by the walker (see prefetch), until a reader
	// takes it.
	f    *os.File
	done chan struct{}
	err  error
}

// putReq carries one chunk of a file from a reader to a putter, which
// hashes it, fills in its ID at index idx of the file's chunk list and
// stores it if new.
type putReq struct {
	file *fileState
	idx  int
	data []byte
}

// fileState gathers the chunk list of a file being read. pending counts
// chunks still with the putters, plus one while the reader is still
// reading; whoever brings it to zero completes the item.
type fileState struct {
	it      *item
	pending atomic.Int64
	// mu guards refs and err.
	mu   sync.Mutex
	refs []snapshot.ChunkRef
	err  error
}

// done records one finished unit of work (a chunk, or the reading).
func (f *fileState) done(err error) {
	f.mu.Lock()
	if err != nil && f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
	if f.pending.Add(-1) != 0 {
		return
	}
	f.mu.Lock()
	f.it.node.Chunks, f.it.err = f.refs, f.err
	f.mu.Unlock()
	close(f.it.done)
}

func (b *run) execute(ctx context.Context, tw *snapshot.TreeWriter) (snapshot.Stats, error) {
	g, ctx := errgroup.WithContext(ctx)
	if p := b.opts.Progress; p != nil {
		scanCtx, cancelScan := context.WithCancel(ctx)
		var scanning sync.WaitGroup
		scanning.Go(func() { scan(scanCtx, b.root, p) })
		defer scanning.Wait()
		defer cancelScan()
	}
	g.Go(func() error {
		defer close(b.items)
		defer close(b.jobs)
		return b.walk(ctx)
	})
	readers, rctx := errgroup.WithContext(ctx)
	for range b.opts.Workers {
		readers.Go(func() error { return b.reader(rctx) })
	}
	g.Go(func() error {
		err := readers.Wait()
		close(b.puts)
		return err
	})
	for range b.opts.Workers {
		g.Go(func() error { return b.putter(ctx) })
	}
	g.Go(func() error { return b.writeManifest(ctx, tw) })
	err := g.Wait()
	b.closeUnread()
	b.stats.BytesRead = b.bytesRead.Load()
	return b.stats, err
}

func (b *run) writeManifest(ctx context.Context, tw *snapshot.TreeWriter) error {
	p := b.opts.Progress
	for it := range b.items {
		if it.done != nil {
			select {
			case <-it.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			if it.err != nil {
				return it.err
			}
			b.stats.FilesRead++
		}
		n := it.node
		switch n.Type {
		case snapshot.TypeFile:
			b.stats.Files++
			b.stats.Bytes += n.Size
			if it.done == nil {
				b.stats.FilesUnchanged++
			}
			if p != nil {
				p.FilesDone.Add(1)
				p.BytesDone.Add(n.Size)
			}
		case snapshot.TypeDir:
			b.stats.Dirs++
		case snapshot.TypeSymlink:
			b.stats.Symlinks++
		case snapshot.TypeHardlink:
			b.stats.Hardlinks++
			if p != nil {
				p.FilesDone.Add(1)
			}
		}
		if err := tw.Add(n); err != nil {
			return err
		}
	}
	return nil
}

func (b *run) putter(ctx context.Context) error {
	for req := range b.puts {
		id := chunk.Sum(req.data)
		req.file.mu.Lock()
		req.file.refs[req.idx].ID = id
		req.file.mu.Unlock()
		_, err := b.w.Put(ctx, id, req.data)
		b.sem.Release(int64(len(req.data)))
		putBuf(req.data)
		req.file.done(err)
		if err != nil {
			return err
		}
	}
	return nil
}
