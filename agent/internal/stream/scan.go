package stream

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// fileModel is the receiver's copy of one file, as it will be once the
// queue is applied.
type fileModel struct {
	size   int64
	blocks []blockHash
	mtime  time.Time // of the local file when last compared (zero: never)
	// appendOnly holds while every change seen so far was an append.
	appendOnly bool
}

// scanLoop scans what the watcher marked dirty, and everything on the
// rescan period, until ctx ends.
func (s *Sender) scanLoop(ctx context.Context) error {
	tick := time.NewTicker(s.cfg.Rescan)
	defer tick.Stop()
	verify := false
	buf := make([]byte, s.cfg.BlockSize)
	rescan := func() {
		verify = true
		s.mu.Lock()
		if !s.fullScan {
			s.fullScan, s.fullSince = true, time.Now()
		}
		s.mu.Unlock()
	}
	for {
		s.mu.Lock()
		full, since := s.fullScan, s.fullSince
		paths := s.dirty
		s.dirty = map[string]time.Time{}
		s.fullScan = false
		var oldest time.Time
		if full {
			oldest = since
		}
		for _, t := range paths {
			if oldest.IsZero() || t.Before(oldest) {
				oldest = t
			}
		}
		s.scanning = oldest
		s.mu.Unlock()
		var err error
		if full {
			err = s.scanTree(ctx, ".", since, buf)
			if err == nil {
				s.mu.Lock()
				s.fullScans++
				s.mu.Unlock()
			}
		}
		if err == nil && verify {
			err = s.verifyStep(ctx, s.cfg.VerifyBytes, buf)
			verify = false
		}
		for p, t := range paths {
			if err != nil {
				break
			}
			err = s.scanPath(ctx, p, t, buf)
		}
		s.mu.Lock()
		s.scanning = time.Time{}
		s.mu.Unlock()
		if err != nil {
			return err
		}
		if full || len(paths) > 0 {
			// Busy: still honour the rescan period under a steady load.
			select {
			case <-tick.C:
				rescan()
			default:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.dirtyCh:
		case <-tick.C:
			rescan()
		}
	}
}

// scanPath looks at one path the watcher reported: a file, a directory
// (new: scan it all) or something gone.
func (s *Sender) scanPath(ctx context.Context, rel string, observed time.Time, buf []byte) error {
	fi, err := os.Lstat(s.abs(rel))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s.removeUnder(ctx, rel, observed, nil)
	case err != nil:
		s.log.Warn("stream cannot read path", "dataset", s.cfg.Dataset, "path", rel, "err", err)
		return nil
	case fi.IsDir():
		return s.scanTree(ctx, rel, observed, buf)
	case fi.Mode().IsRegular():
		return s.scanFile(ctx, rel, observed, true, buf)
	default:
		return s.removeUnder(ctx, rel, observed, nil)
	}
}

func (s *Sender) abs(rel string) string { return filepath.Join(s.cfg.Dir, filepath.FromSlash(rel)) }

// scanTree compares every file under rel ("." for all) with the model and
// ships the differences; files of the model no longer there are removed.
// Nothing is removed under a directory that could not be read, and
// nothing at all when the dataset directory itself is unreadable (an
// unmounted volume must not empty the standby).
func (s *Sender) scanTree(ctx context.Context, rel string, observed time.Time, buf []byte) error {
	if _, err := os.Stat(s.cfg.Dir); err != nil {
		s.log.Warn("stream dataset directory unreadable, not scanning", "dataset", s.cfg.Dataset, "dir", s.cfg.Dir, "err", err)
		return nil
	}
	seen := map[string]bool{}
	var unreadable []string
	err := filepath.WalkDir(s.abs(rel), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			s.log.Warn("stream cannot read path", "dataset", s.cfg.Dataset, "path", p, "err", err)
			if r, rerr := filepath.Rel(s.cfg.Dir, p); rerr == nil {
				unreadable = append(unreadable, filepath.ToSlash(r))
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		r, err := filepath.Rel(s.cfg.Dir, p)
		if err != nil {
			return err
		}
		r = filepath.ToSlash(r)
		seen[r] = true
		return s.scanFile(ctx, r, observed, false, buf)
	})
	if err != nil {
		return err
	}
	for p := range s.model {
		for _, u := range unreadable {
			if u == "." || p == u || strings.HasPrefix(p, u+"/") {
				seen[p] = true
			}
		}
	}
	return s.removeUnder(ctx, rel, observed, seen)
}

// removeUnder removes from the receiver the model's files at or under rel
// that are not in keep.
func (s *Sender) removeUnder(ctx context.Context, rel string, observed time.Time, keep map[string]bool) error {
	if _, err := os.Stat(s.cfg.Dir); err != nil {
		return nil // the dataset directory itself is gone: keep the standby
	}
	for p := range s.model {
		under := rel == "." || p == rel || strings.HasPrefix(p, rel+"/")
		if !under || keep[p] {
			continue
		}
		delete(s.model, p)
		if err := s.enqueue(ctx, &update{op: opRemove, path: p, observed: observed}); err != nil {
			return err
		}
	}
	return nil
}

// scanFile ships the changes of one file. force compares even when size
// and mtime are those last seen (a watch event said it changed: mtime is
// too coarse to tell two quick writes apart).
func (s *Sender) scanFile(ctx context.Context, rel string, observed time.Time, force bool, buf []byte) error {
	if observed.IsZero() {
		observed = time.Now()
	}
	f, err := os.Open(s.abs(rel))
	if errors.Is(err, fs.ErrNotExist) {
		return s.removeUnder(ctx, rel, observed, nil)
	}
	if err != nil {
		s.log.Warn("stream cannot read file", "dataset", s.cfg.Dataset, "path", rel, "err", err)
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	m := s.model[rel]
	fresh := m == nil
	if fresh {
		m = &fileModel{appendOnly: true}
		s.model[rel] = m
	}
	size := fi.Size()
	if !fresh && !force && size == m.size && fi.ModTime().Equal(m.mtime) {
		return nil
	}
	m.mtime = fi.ModTime()
	if fresh && size == 0 {
		return s.enqueue(ctx, &update{op: opTruncate, path: rel, observed: observed})
	}
	// Only growth can be an append: a change that kept the size was a
	// write in place.
	appendable := m.appendOnly && size > m.size && !s.cfg.InPlace(rel)
	if appendable {
		ok, err := s.prefixIntact(f, m, buf)
		if err != nil {
			return nil // the file changes under us; the next event or scan retries
		}
		if ok {
			return s.shipAppend(ctx, f, rel, m, size, observed, buf)
		}
		m.appendOnly = false
	}
	return s.shipDiff(ctx, f, rel, m, size, observed, buf)
}

// readBlock reads block i of f into buf, returning the bytes read (short at
// the end of the file).
func (s *Sender) readBlock(f *os.File, i int64, buf []byte) ([]byte, error) {
	n, err := f.ReadAt(buf, i*int64(s.cfg.BlockSize))
	if err == io.EOF {
		err = nil
	}
	return buf[:n], err
}

// prefixIntact checks, cheaply, that the file still starts with the
// content the receiver has: the block holding the old end, and the first
// block, hash as before.
func (s *Sender) prefixIntact(f *os.File, m *fileModel, buf []byte) (bool, error) {
	if m.size == 0 {
		return true, nil
	}
	bs := int64(s.cfg.BlockSize)
	tail := (m.size - 1) / bs
	check := []int64{tail}
	if tail != 0 {
		check = append(check, 0)
	}
	for _, i := range check {
		if i >= int64(len(m.blocks)) {
			return false, nil
		}
		want := m.size - i*bs
		if want > bs {
			want = bs
		}
		b, err := s.readBlock(f, i, buf[:want])
		if err != nil {
			return false, err
		}
		if int64(len(b)) != want || hashBlock(b) != m.blocks[i] {
			return false, nil
		}
	}
	return true, nil
}

// shipAppend ships the bytes past the old end.
func (s *Sender) shipAppend(ctx context.Context, f *os.File, rel string, m *fileModel, size int64, observed time.Time, buf []byte) error {
	bs := int64(s.cfg.BlockSize)
	first := m.size / bs
	var pending []byte
	pendOff := m.size
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		u := &update{op: opWrite, path: rel, off: pendOff, data: pending, observed: observed}
		pendOff += int64(len(pending))
		pending = nil
		return s.enqueue(ctx, u)
	}
	end := m.size
	for i := first; i*bs < size; i++ {
		b, err := s.readBlock(f, i, buf)
		if err != nil {
			return err
		}
		if len(b) == 0 {
			break
		}
		h := hashBlock(b)
		if i < int64(len(m.blocks)) {
			m.blocks[i] = h
		} else {
			m.blocks = append(m.blocks, h)
		}
		blockEnd := i*bs + int64(len(b))
		if blockEnd > end {
			pending = append(pending, b[end-i*bs:]...)
			end = blockEnd
		}
		if len(pending) >= writePiece {
			if err := flush(); err != nil {
				return err
			}
		}
		if int64(len(b)) < bs {
			break
		}
	}
	m.size = end
	return flush()
}

// shipDiff re-hashes the whole file and ships the blocks that differ,
// truncating first when the file shrank.
func (s *Sender) shipDiff(ctx context.Context, f *os.File, rel string, m *fileModel, size int64, observed time.Time, buf []byte) error {
	bs := int64(s.cfg.BlockSize)
	oldFull := m.size / bs // blocks of the old content that were whole
	if size < m.size {
		if err := s.enqueue(ctx, &update{op: opTruncate, path: rel, off: size, observed: observed}); err != nil {
			return err
		}
		m.size = size
		m.blocks = m.blocks[:(size+bs-1)/bs]
	}
	var pending []byte
	var pendOff int64
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		u := &update{op: opWrite, path: rel, off: pendOff, data: pending, observed: observed}
		pending = nil
		return s.enqueue(ctx, u)
	}
	var end int64
	for i := int64(0); ; i++ {
		b, err := s.readBlock(f, i, buf)
		if err != nil {
			return err
		}
		if len(b) == 0 {
			break
		}
		h := hashBlock(b)
		off := i * bs
		switch {
		case i < int64(len(m.blocks)) && m.blocks[i] == h:
			if err := flush(); err != nil {
				return err
			}
		default:
			if i < oldFull {
				m.appendOnly = false
			}
			if len(pending) > 0 && (pendOff+int64(len(pending)) != off || len(pending) >= writePiece) {
				if err := flush(); err != nil {
					return err
				}
			}
			if len(pending) == 0 {
				pendOff = off
			}
			pending = append(pending, b...)
		}
		if i < int64(len(m.blocks)) {
			m.blocks[i] = h
		} else {
			m.blocks = append(m.blocks, h)
		}
		end = off + int64(len(b))
		if int64(len(b)) < bs {
			break
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if end < m.size {
		// The file shrank while we read it.
		if err := s.enqueue(ctx, &update{op: opTruncate, path: rel, off: end, observed: observed}); err != nil {
			return err
		}
		m.blocks = m.blocks[:(end+bs-1)/bs]
	}
	m.size = end
	return nil
}

// verifyStep re-reads up to budget bytes of the files taken for
// append-only, resuming where the previous step stopped, and compares
// their whole blocks with the model. A file whose old content changed is
// compared in full and shipped (and is no longer taken for append-only).
func (s *Sender) verifyStep(ctx context.Context, budget int64, buf []byte) error {
	var paths []string
	for p, m := range s.model {
		if m.appendOnly && m.size >= int64(s.cfg.BlockSize) {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return nil
	}
	slices.Sort(paths)
	start, _ := slices.BinarySearch(paths, s.verifyPath)
	bs := int64(s.cfg.BlockSize)
	for n := 0; n < len(paths) && budget > 0; n++ {
		p := paths[(start+n)%len(paths)]
		if p != s.verifyPath {
			s.verifyPath, s.verifyBlock = p, 0
		}
		m := s.model[p]
		changed, err := s.verifyFile(p, m, &budget, buf)
		if err != nil {
			s.verifyBlock = 0
			continue // gone or unreadable: the next scan deals with it
		}
		if changed {
			m.appendOnly = false
			if err := s.scanFile(ctx, p, time.Now(), true, buf); err != nil {
				return err
			}
		}
		if changed || s.verifyBlock >= m.size/bs {
			s.verifyBlock = 0
			if n+1 < len(paths) {
				s.verifyPath = paths[(start+n+1)%len(paths)]
			} else {
				s.verifyPath = ""
			}
			continue
		}
		return nil // budget spent inside this file
	}
	return nil
}

// verifyFile compares p's whole blocks from s.verifyBlock on with the
// model, within *budget bytes. It reports whether one differs.
func (s *Sender) verifyFile(p string, m *fileModel, budget *int64, buf []byte) (bool, error) {
	f, err := os.Open(s.abs(p))
	if err != nil {
		return false, err
	}
	defer f.Close()
	bs := int64(s.cfg.BlockSize)
	for ; s.verifyBlock < m.size/bs && *budget > 0; s.verifyBlock++ {
		b, err := s.readBlock(f, s.verifyBlock, buf)
		if err != nil {
			return false, err
		}
		*budget -= bs
		if int64(len(b)) != bs || hashBlock(b) != m.blocks[s.verifyBlock] {
			return true, nil
		}
	}
	return false, nil
}
