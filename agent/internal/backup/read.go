package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
)

const noatime = syscall.O_NOATIME

// Whence values of lseek(2) for sparse files.
const (
	seekData = 3
	seekHole = 4
)

func (b *run) reader(ctx context.Context) error {
	// One chunker per size bounds met (the class's, database files'),
	// each reset per file; buf holds the largest chunk of any of them.
	chunkers := map[chunk.Params]*chunk.Chunker{}
	var buf []byte
	for it := range b.jobs {
		p, err := chunk.ParamsForFile(b.opts.Class, filepath.Base(it.path))
		if err != nil {
			if it.f != nil {
				it.f.Close()
			}
			return err
		}
		c := chunkers[p]
		if c == nil {
			c = chunk.New(nil, b.pol, p)
			chunkers[p] = c
		}
		if uint(len(buf)) < p.Max {
			buf = make([]byte, p.Max)
		}
		f := &fileState{it: it}
		f.pending.Store(1)
		err = b.readFile(ctx, f, c, buf)
		f.done(err)
		if err != nil {
			return err
		}
	}
	return nil
}

// region is a range of a file holding data; the rest are holes.
type region struct{ off, end int64 }

// dataRegions lists the data regions of f up to size. Filesystems without
// SEEK_DATA yield one region.
func dataRegions(f *os.File, size int64) []region {
	var rs []region
	off := int64(0)
	for off < size {
		d, err := f.Seek(off, seekData)
		if err != nil {
			if errors.Is(err, syscall.ENXIO) {
				break // only a hole remains
			}
			return []region{{0, size}}
		}
		if d >= size {
			break
		}
		h, err := f.Seek(d, seekHole)
		if err != nil {
			return []region{{0, size}}
		}
		h = min(h, size)
		rs = append(rs, region{d, h})
		off = h
	}
	return rs
}

// readFile reads and chunks one file and hands the chunks to the putters,
// which hash and store them; f collects the chunk list.
func (b *run) readFile(ctx context.Context, fs *fileState, c *chunk.Chunker, buf []byte) error {
	it := fs.it
	f, err := b.open(it)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	n := it.node
	regions := dataRegions(f, n.Size)
	if prefix, ok, err := b.appendedTo(f, it.grown, buf); err != nil {
		return fmt.Errorf("backup: read %s: %w", it.path, err)
	} else if ok {
		fs.refs = prefix
		regions = []region{{it.grown.Size, n.Size}}
	}
	for _, r := range regions {
		c.Reset(io.NewSectionReader(f, r.off, r.end-r.off))
		off := r.off
		for {
			data, err := c.Next(buf)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("backup: read %s: %w", it.path, err)
			}
			b.bytesRead.Add(int64(len(data)))
			if err := b.sem.Acquire(ctx, int64(len(data))); err != nil {
				return err
			}
			cp := getBuf(len(data))
			copy(cp, data)
			fs.mu.Lock()
			idx := len(fs.refs)
			fs.refs = append(fs.refs, snapshot.ChunkRef{Offset: off, Length: int64(len(data))})
			fs.mu.Unlock()
			off += int64(len(data))
			fs.pending.Add(1)
			select {
			case b.puts <- putReq{file: fs, idx: idx, data: cp}:
			case <-ctx.Done():
				fs.pending.Add(-1)
				b.sem.Release(int64(len(cp)))
				putBuf(cp)
				return ctx.Err()
			}
		}
	}
	return nil
}

// appendedTo checks whether f still starts with exactly the content of
// parent (a smaller earlier version of the file), chunk by chunk, and if so
// returns the parent's chunks: only the appended bytes then need chunking,
// so appending to a log stores the new bytes and not the old tail again.
func (b *run) appendedTo(f *os.File, parent *snapshot.Node, buf []byte) ([]snapshot.ChunkRef, bool, error) {
	if parent == nil {
		return nil, false, nil
	}
	pos := int64(0)
	for _, c := range parent.Chunks {
		if c.Offset != pos || c.Length > int64(cap(buf)) || !b.w.Has(c.ID) {
			return nil, false, nil // holes, or data gone: chunk normally
		}
		pos += c.Length
	}
	if pos != parent.Size {
		return nil, false, nil
	}
	for _, c := range parent.Chunks {
		data := buf[:c.Length]
		if _, err := f.ReadAt(data, c.Offset); err != nil {
			return nil, false, err
		}
		b.bytesRead.Add(c.Length)
		if chunk.Sum(data) != c.ID {
			return nil, false, nil
		}
	}
	return slices.Clone(parent.Chunks), true, nil
}
