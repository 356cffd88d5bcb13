package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/understudy/understudy/pkg/chunk"
)

// LockOptions tune [Store.Lock].
type LockOptions struct {
	// Wait makes Lock wait (until ctx is done) for another writer to finish
	// instead of failing at once with [ErrLocked].
	Wait bool
	// PackSize is the size at which packs are closed; zero means
	// [DefaultPackSize].
	PackSize int64
}

// WriterStats count what a writer added.
type WriterStats struct {
	Chunks      int64 // new chunks stored
	RawBytes    int64 // their plaintext bytes
	StoredBytes int64 // bytes written to pack files (blobs and trailers)
	Packs       int64
}

// Writer adds chunks and records to a store while holding its writer lock.
// Put and PutStored are safe for concurrent use; Flush, Prune and Close
// must not run concurrently with them. A Writer that hit a write error
// refuses further work: what it flushed before is intact.
type Writer struct {
	s        *Store
	lockF    *os.File
	packSize int64

	// known is the sorted set of chunk IDs in the index when the lock was
	// taken; nothing else can add to the index while we hold the lock.
	known []chunk.ID

	// mu guards everything below.
	mu      sync.Mutex
	session map[chunk.ID]struct{} // IDs put (or being put) by this writer
	cur     *packWriter
	err     error // sticky
	stats   WriterStats
	closed  bool

	finishCh chan finishReq
	done     chan struct{}
}

type finishReq struct {
	pw   *packWriter
	done chan error // for a barrier (pw == nil)
}

// Lock takes the store's writer lock and returns a Writer. Leftovers of
// interrupted writers are dealt with first: temporary pack files are
// removed, complete packs the index does not name are indexed (their chunks
// become reusable; prune removes them if no snapshot refers to them), and a
// damaged index is rebuilt from the pack trailers.
func (s *Store) Lock(ctx context.Context, opts LockOptions) (*Writer, error) {
	f, err := s.acquireLock(ctx, opts.Wait)
	if err != nil {
		return nil, err
	}
	w := &Writer{s: s, lockF: f, packSize: opts.PackSize, session: map[chunk.ID]struct{}{},
		finishCh: make(chan finishReq, 1), done: make(chan struct{})}
	if w.packSize <= 0 {
		w.packSize = DefaultPackSize
	}
	if err := w.recover(); err != nil {
		releaseLock(f)
		return nil, err
	}
	go w.finisher()
	return w, nil
}

func (w *Writer) recover() error {
	s := w.s
	tmps, _ := os.ReadDir(filepath.Join(s.dir, tmpDir))
	for _, e := range tmps {
		if strings.HasSuffix(e.Name(), ".pack.tmp") {
			os.Remove(filepath.Join(s.dir, tmpDir, e.Name()))
		}
	}
	// Half-written records (temporary files of an atomic write).
	kinds, _ := os.ReadDir(filepath.Join(s.dir, recordsDir))
	for _, k := range kinds {
		ents, _ := os.ReadDir(filepath.Join(s.dir, recordsDir, k.Name()))
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				os.Remove(filepath.Join(s.dir, recordsDir, k.Name(), e.Name()))
			}
		}
	}
	db, err := openIndex(s.dir, false)
	if err == nil {
		err = db.View(func(tx *bolt.Tx) error { return checkSize(s.dir, tx) })
		if err != nil {
			db.Close()
		}
	}
	if errors.Is(err, ErrIndexDamaged) {
		s.log.Warn("index damaged, rebuilding it from the pack trailers", "err", err)
		damaged := filepath.Join(s.dir, fmt.Sprintf("%s.damaged-%d", indexFile, time.Now().Unix()))
		if rerr := os.Rename(filepath.Join(s.dir, indexFile), damaged); rerr != nil {
			return fmt.Errorf("store: move damaged index aside: %w", rerr)
		}
		m, bad, rerr := s.codec.rebuildMem(s.dir)
		if rerr != nil {
			return rerr
		}
		for p, e := range bad {
			s.log.Warn("pack unreadable while rebuilding index", "pack", p.String(), "err", e)
		}
		if rerr := writeIndex(s.dir, m); rerr != nil {
			return rerr
		}
		s.idxMu.Lock()
		s.fallback = nil
		s.idxMu.Unlock()
		db, err = openIndex(s.dir, false)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	files, err := listPackFiles(s.dir)
	if err != nil {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error {
		cb, err := tx.CreateBucketIfNotExists(bucketChunks)
		if err != nil {
			return err
		}
		pb, err := tx.CreateBucketIfNotExists(bucketPacks)
		if err != nil {
			return err
		}
		for pid, size := range files {
			if pb.Get(pid[:]) != nil {
				continue
			}
			pf, err := os.Open(packPath(s.dir, pid))
			if err != nil {
				continue
			}
			entries, terr := s.codec.readTrailer(pf, pid, size)
			pf.Close()
			if terr != nil {
				s.log.Warn("unindexed pack unreadable, prune will remove it", "pack", pid.String(), "err", terr)
				continue
			}
			for _, e := range entries {
				if cb.Get(e.id[:]) == nil {
					if err := cb.Put(e.id[:], encodeLoc(e.loc)); err != nil {
						return err
					}
				}
			}
			if err := pb.Put(pid[:], encodePackInfo(PackInfo{Size: size, Blobs: len(entries)})); err != nil {
				return err
			}
		}
		w.known = make([]chunk.ID, 0, cb.Stats().KeyN)
		return cb.ForEach(func(k, _ []byte) error {
			if len(k) == chunk.Size {
				w.known = append(w.known, chunk.ID(k))
			}
			return nil
		})
	})
}

func (w *Writer) hasLocked(id chunk.ID) bool {
	if _, ok := w.session[id]; ok {
		return true
	}
	_, found := slices.BinarySearchFunc(w.known, id, func(a, b chunk.ID) int { return bytes.Compare(a[:], b[:]) })
	return found
}

// Has reports whether the store holds id or this writer is adding it.
func (w *Writer) Has(id chunk.ID) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hasLocked(id)
}

func (w *Writer) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("store: writer is closed")
	}
	return w.err
}

// Put stores chunk id with plaintext data unless the store already holds
// it, and reports how many stored bytes it appended (0 for a duplicate).
// data is not retained. The chunk is durable and visible to readers after
// the next [Writer.Flush] (or sooner, when its pack fills up).
func (w *Writer) Put(ctx context.Context, id chunk.ID, data []byte) (int, error) {
	if len(data) > MaxChunkSize {
		return 0, fmt.Errorf("store: chunk of %d bytes exceeds %d", len(data), MaxChunkSize)
	}
	w.mu.Lock()
	if w.err != nil || w.closed {
		w.mu.Unlock()
		return 0, w.usable(ctx)
	}
	if w.hasLocked(id) {
		w.mu.Unlock()
		return 0, nil
	}
	w.session[id] = struct{}{}
	w.mu.Unlock()
	if err := ctx.Err(); err != nil {
		w.fail(err)
		return 0, err
	}
	// The stored form is copied into the pack's buffer by append, so its
	// buffer is reused for the next chunk.
	bp := getScratch()
	defer putScratch(bp)
	stored := w.s.codec.seal((*bp)[:0], id, data)
	*bp = stored[:0]
	return len(stored), w.append(id, stored, len(data))
}

// PutStored adds a chunk received in stored form (from [Store.GetStored] on
// a store with the same key). It is decoded and its hash checked before it
// is accepted.
func (w *Writer) PutStored(ctx context.Context, id chunk.ID, stored []byte) error {
	plain, err := w.s.codec.open(nil, id, stored)
	if err != nil {
		return fmt.Errorf("store: received chunk %s: %w", id.Short(), err)
	}
	w.mu.Lock()
	if w.err != nil || w.closed {
		w.mu.Unlock()
		return w.usable(ctx)
	}
	if w.hasLocked(id) {
		w.mu.Unlock()
		return nil
	}
	w.session[id] = struct{}{}
	w.mu.Unlock()
	return w.append(id, stored, len(plain))
}

func (w *Writer) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

func (w *Writer) append(id chunk.ID, stored []byte, rawLen int) error {
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return err
	}
	if w.cur == nil {
		pw, err := newPackWriter(w.s.dir)
		if err != nil {
			w.err = err
			w.mu.Unlock()
			return err
		}
		w.cur = pw
	}
	if err := w.cur.add(id, stored, rawLen); err != nil {
		w.err = fmt.Errorf("store: write pack: %w", err)
		w.mu.Unlock()
		return w.err
	}
	w.stats.Chunks++
	w.stats.RawBytes += int64(rawLen)
	var full *packWriter
	if w.cur.size >= w.packSize {
		full = w.cur
		w.cur = nil
	}
	w.mu.Unlock()
	if full != nil {
		// Blocks while earlier packs are still being finished: that
		// bounds the work in flight.
		w.finishCh <- finishReq{pw: full}
	}
	return nil
}

// finisher makes full packs durable and indexes them, one at a time, in
// the background so that chunking and compression continue meanwhile.
func (w *Writer) finisher() {
	defer close(w.done)
	for req := range w.finishCh {
		if req.pw == nil {
			w.mu.Lock()
			err := w.err
			w.mu.Unlock()
			req.done <- err
			continue
		}
		w.mu.Lock()
		failed := w.err != nil
		w.mu.Unlock()
		if failed {
			req.pw.abort()
			continue
		}
		if err := w.commitPack(req.pw); err != nil {
			w.fail(err)
		}
	}
}

func (w *Writer) commitPack(pw *packWriter) error {
	info, err := pw.finish(w.s.codec, w.s.dir)
	if err != nil {
		return err
	}
	if err := w.s.updateIndex(func(cb, pb *bolt.Bucket) error {
		for _, e := range pw.entries {
			if err := cb.Put(e.id[:], encodeLoc(e.loc)); err != nil {
				return err
			}
		}
		return pb.Put(pw.id[:], encodePackInfo(info))
	}); err != nil {
		return err
	}
	w.mu.Lock()
	w.stats.StoredBytes += info.Size
	w.stats.Packs++
	w.mu.Unlock()
	return nil
}

// updateIndex runs fn in one read-write index transaction.
func (s *Store) updateIndex(fn func(chunks, packs *bolt.Bucket) error) error {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	db, err := openIndex(s.dir, false)
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		cb, err := tx.CreateBucketIfNotExists(bucketChunks)
		if err != nil {
			return err
		}
		pb, err := tx.CreateBucketIfNotExists(bucketPacks)
		if err != nil {
			return err
		}
		return fn(cb, pb)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: update index: %w", err)
	}
	return nil
}

// Flush makes every chunk put so far durable and indexed. After it returns
// nil, records referring to those chunks may be saved.
func (w *Writer) Flush(ctx context.Context) error {
	if err := w.usable(ctx); err != nil {
		return err
	}
	w.mu.Lock()
	pw := w.cur
	w.cur = nil
	w.mu.Unlock()
	if pw != nil {
		w.finishCh <- finishReq{pw: pw}
	}
	done := make(chan error, 1)
	w.finishCh <- finishReq{done: done}
	return <-done
}

// Stats returns what the writer has added so far.
func (w *Writer) Stats() WriterStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// Close releases the writer lock. Chunks put since the last Flush are
// discarded (their temporary pack is removed). Close is idempotent.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	pw := w.cur
	w.cur = nil
	w.mu.Unlock()
	if pw != nil {
		pw.abort()
	}
	close(w.finishCh)
	<-w.done
	releaseLock(w.lockF)
	return nil
}
