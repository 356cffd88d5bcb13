package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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
	c := chunk.New(nil, b.pol, b.params)
	buf := make([]byte, b.params.Max)
	for it := range b.jobs {
		err := b.readFile(ctx, it, c, buf)
		if err != nil {
			it.err = err
		}
		close(it.done)
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

func (b *run) readFile(ctx context.Context, it *item, c *chunk.Chunker, buf []byte) error {
	f, err := b.opts.Open(it.path)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	n := it.node
	var refs []snapshot.ChunkRef
	for _, r := range dataRegions(f, n.Size) {
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
			id := chunk.Sum(data)
			refs = append(refs, snapshot.ChunkRef{ID: id, Offset: off, Length: int64(len(data))})
			off += int64(len(data))
			b.bytesRead.Add(int64(len(data)))
			if b.w.Has(id) {
				continue
			}
			if err := b.sem.Acquire(ctx, int64(len(data))); err != nil {
				return err
			}
			cp := make([]byte, len(data))
			copy(cp, data)
			select {
			case b.puts <- putReq{id: id, data: cp}:
			case <-ctx.Done():
				b.sem.Release(int64(len(cp)))
				return ctx.Err()
			}
		}
	}
	n.Chunks = refs
	return nil
}
