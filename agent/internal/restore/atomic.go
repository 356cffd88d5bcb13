package restore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"syscall"

	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
)

// tmpPrefix names the temporary files of atomic replacement. One left by
// an interrupted restore is not in the snapshot, so the next restore
// removes it with the other extras.
const tmpPrefix = ".understudy-tmp-"

// replaceFile is writeFile for Options.Atomic: when the existing file (of
// the right size) already equals the snapshot it is left alone; otherwise
// the file is built under a temporary name — chunks that match the old
// file are copied from it, the others fetched — synced, given its
// metadata and renamed over the old one.
func (r *restorer) replaceFile(ctx context.Context, n *snapshot.Node, locs map[chunk.ID]store.Location, sameSize bool, wb *workBufs) (written int64, unchanged bool, err error) {
	var old *os.File
	if sameSize || n.Size > 0 {
		old, err = r.root.Open(n.Path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, false, fmt.Errorf("restore: %w", err)
		}
		if old != nil {
			defer old.Close()
		}
	}
	if old != nil && sameSize {
		same, err := equalsNode(old, n)
		if err != nil {
			return 0, false, err
		}
		if same {
			return 0, true, nil
		}
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(path.Dir(n.Path), tmpPrefix+hex.EncodeToString(rnd[:]))
	f, err := r.root.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, false, fmt.Errorf("restore: %w", err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			_ = r.root.Remove(tmp)
		}
	}()
	if err := f.Truncate(n.Size); err != nil {
		return 0, false, fmt.Errorf("restore: %w", err)
	}
	cw := newChunkWriter(f, n)
	defer cw.finish()
	buf := wb.old
	defer func() { wb.old = buf }()
	pos := int64(0)
	for i, c := range n.Chunks {
		if c.Offset < pos || c.Length < 0 || c.Offset+c.Length > n.Size {
			return written, false, fmt.Errorf("%w: %s: chunk at %d overlaps or exceeds the file", snapshot.ErrBadManifest, n.Path, c.Offset)
		}
		pos = c.Offset + c.Length
		if cap(buf) < int(c.Length) {
			buf = make([]byte, c.Length)
		}
		buf = buf[:c.Length]
		if old != nil {
			if _, err := old.ReadAt(buf, c.Offset); err == nil && chunk.Sum(buf) == c.ID {
				if err := cw.writeAt(buf, c.Offset); err != nil {
					return written, false, err
				}
				continue
			}
		}
		data, err := r.fetch(ctx, n.Chunks, i, locs, wb)
		if err != nil {
			return written, false, err
		}
		if int64(len(data)) != c.Length {
			return written, false, fmt.Errorf("%w: %s: chunk %s has %d bytes, manifest says %d", snapshot.ErrBadManifest, n.Path, c.ID.Short(), len(data), c.Length)
		}
		if err := cw.writeAt(data, c.Offset); err != nil {
			return written, false, err
		}
		written += c.Length
	}
	if err := cw.finish(); err != nil {
		return written, false, err
	}
	if err := f.Sync(); err != nil {
		return written, false, fmt.Errorf("restore: %w", err)
	}
	if err := f.Close(); err != nil {
		return written, false, fmt.Errorf("restore: %w", err)
	}
	done = true
	tn := *n
	tn.Path = tmp
	if err := r.setMeta(&tn); err != nil {
		_ = r.root.Remove(tmp)
		return written, false, err
	}
	if err := r.root.Rename(tmp, n.Path); err != nil {
		_ = r.root.Remove(tmp)
		return written, false, fmt.Errorf("restore: %w", err)
	}
	return written, false, nil
}

// equalsNode reports whether f (already of n's size) holds exactly n's
// content: every chunk hashes to its ID and no data lies in n's holes.
func equalsNode(f *os.File, n *snapshot.Node) (bool, error) {
	var buf []byte
	pos := int64(0)
	for _, c := range n.Chunks {
		if c.Offset < pos || c.Length < 0 || c.Offset+c.Length > n.Size {
			return false, fmt.Errorf("%w: %s: chunk at %d overlaps or exceeds the file", snapshot.ErrBadManifest, n.Path, c.Offset)
		}
		if c.Offset > pos && hasData(f, pos, c.Offset-pos) {
			return false, nil
		}
		pos = c.Offset + c.Length
		if cap(buf) < int(c.Length) {
			buf = make([]byte, c.Length)
		}
		buf = buf[:c.Length]
		if _, err := f.ReadAt(buf, c.Offset); err != nil || chunk.Sum(buf) != c.ID {
			return false, nil
		}
	}
	return pos >= n.Size || !hasData(f, pos, n.Size-pos), nil
}

// hasData reports whether [off, off+n) of f may hold non-zero bytes. Where
// the filesystem cannot tell holes from data, the bytes are read.
func hasData(f *os.File, off, n int64) bool {
	d, err := f.Seek(off, seekData)
	if err == nil {
		if d >= off+n {
			return false
		}
	} else if errors.Is(err, syscall.ENXIO) {
		return false
	}
	buf := make([]byte, min(n, 1<<20))
	for n > 0 {
		k := min(n, int64(len(buf)))
		if _, err := f.ReadAt(buf[:k], off); err != nil {
			return true
		}
		for _, b := range buf[:k] {
			if b != 0 {
				return true
			}
		}
		off += k
		n -= k
	}
	return false
}
