package restore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
)

// fallocate(2) flags to punch a hole without changing the file size.
const (
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
	seekData        = 3
)

// restoreFile writes one file. Store damage is recorded against the file
// (and the file removed, so no half-restored file is mistaken for good);
// other errors too, so that one bad file does not stop the rest.
func (r *restorer) restoreFile(ctx context.Context, n *snapshot.Node, locs map[chunk.ID]store.Location, wb *workBufs) {
	written, unchanged, metaSet, err := r.writeFile(ctx, n, locs, wb)
	if err == nil && !metaSet {
		err = r.setMeta(n)
	}
	if err != nil {
		if ctx.Err() == nil {
			_ = r.root.Remove(n.Path)
			r.damaged(n.Path, err)
		}
		return
	}
	r.mu.Lock()
	r.res.Files++
	r.res.Bytes += n.Size
	r.res.BytesWritten += written
	if unchanged {
		r.res.FilesUnchanged++
	}
	r.mu.Unlock()
	r.prog.FilesDone.Add(1)
	r.prog.BytesDone.Add(n.Size)
}

// workBufs are a worker's chunk buffers, kept from file to file so that
// restoring allocates only when a larger chunk than any before comes: cb
// for chunks read from the store, old for a target file's present content.
// dirRoot is the directory of the worker's last file, opened under the
// target (see [restorer.parent]).
type workBufs struct {
	cb      store.ChunkBuf
	old     []byte
	dir     string
	dirRoot *os.Root
}

// parent returns the directory holding p, opened under the target, and
// p's name in it. The worker keeps the directory open for its next file:
// files come in walk order, so most share their predecessor's directory,
// and a file is then opened with one openat(2) instead of one per path
// component (resolving a path under an [os.Root] opens every directory
// on the way, and did so twice per file: to look, then to open).
func (r *restorer) parent(wb *workBufs, p string) (*os.Root, string, error) {
	dir := parentOf(p)
	if dir == "." {
		return r.root, p, nil
	}
	name := p[len(dir)+1:]
	if wb.dirRoot == nil || wb.dir != dir {
		wb.closeDir()
		d, err := r.root.OpenRoot(dir)
		if err != nil {
			return nil, "", fmt.Errorf("restore: %w", err)
		}
		wb.dir, wb.dirRoot = dir, d
	}
	return wb.dirRoot, name, nil
}

// closeDir closes the directory parent kept open.
func (wb *workBufs) closeDir() {
	if wb.dirRoot != nil {
		wb.dirRoot.Close()
		wb.dir, wb.dirRoot = "", nil
	}
}

func (r *restorer) writeFile(ctx context.Context, n *snapshot.Node, locs map[chunk.ID]store.Location, wb *workBufs) (written int64, unchanged, metaSet bool, err error) {
	dir, name, err := r.parent(wb, n.Path)
	if err != nil {
		return 0, false, false, err
	}
	var existing fs.FileInfo
	exists, err := clearIn(dir, name, func(fi fs.FileInfo) bool {
		existing = fi
		st, ok := fi.Sys().(*syscall.Stat_t)
		// A file with other names would change them too: replace it.
		return fi.Mode().IsRegular() && ok && st.Nlink == 1
	})
	if err != nil {
		return 0, false, false, err
	}
	if exists && r.opts.QuickCheck && existing.Size() == n.Size && existing.ModTime().Equal(time.Unix(0, n.MTime)) {
		return 0, true, false, nil
	}
	if r.opts.Atomic {
		written, unchanged, err := r.replaceFile(ctx, n, locs, exists && existing.Size() == n.Size, wb)
		return written, unchanged, false, err
	}
	var f *os.File
	if exists {
		f, err = dir.OpenFile(name, os.O_RDWR, 0)
	} else {
		f, err = dir.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	}
	if err != nil {
		return 0, false, false, fmt.Errorf("restore: %s: %w", n.Path, err)
	}
	defer f.Close()
	if err := f.Truncate(n.Size); err != nil {
		return 0, false, false, fmt.Errorf("restore: %w", err)
	}
	var cw *chunkWriter
	if !exists {
		cw = newChunkWriter(f, n)
		defer cw.finish()
	}
	old := wb.old
	defer func() { wb.old = old }()
	pos := int64(0)
	for i, c := range n.Chunks {
		if c.Offset < pos || c.Length < 0 || c.Offset+c.Length > n.Size {
			return written, false, false, fmt.Errorf("%w: %s: chunk at %d overlaps or exceeds the file", snapshot.ErrBadManifest, n.Path, c.Offset)
		}
		if exists && c.Offset > pos {
			if err := zeroRange(f, pos, c.Offset-pos); err != nil {
				return written, false, false, err
			}
		}
		pos = c.Offset + c.Length
		if exists {
			if cap(old) < int(c.Length) {
				old = make([]byte, c.Length)
			}
			old = old[:c.Length]
			if _, err := f.ReadAt(old, c.Offset); err == nil && chunk.Sum(old) == c.ID {
				continue
			}
		}
		buf, err := r.fetch(ctx, n.Chunks, i, locs, wb)
		if err != nil {
			return written, false, false, err
		}
		if int64(len(buf)) != c.Length {
			return written, false, false, fmt.Errorf("%w: %s: chunk %s has %d bytes, manifest says %d", snapshot.ErrBadManifest, n.Path, c.ID.Short(), len(buf), c.Length)
		}
		if cw != nil {
			err = cw.writeAt(buf, c.Offset)
		} else if _, err = f.WriteAt(buf, c.Offset); err != nil {
			err = fmt.Errorf("restore: %w", err)
		}
		if err != nil {
			return written, false, false, err
		}
		written += c.Length
	}
	if cw != nil {
		if err := cw.finish(); err != nil {
			return written, false, false, err
		}
	}
	if exists && pos < n.Size {
		if err := zeroRange(f, pos, n.Size-pos); err != nil {
			return written, false, false, err
		}
	}
	if err := r.setMetaFile(f, n); err != nil {
		return written, false, false, err
	}
	if err := f.Close(); err != nil {
		return written, false, false, fmt.Errorf("restore: %w", err)
	}
	return written, exists && written == 0, true, nil
}

// setMetaFile sets owner, mode and mtime of a file through its open
// descriptor, after its last write: the same as [restorer.setMeta] without
// resolving the path under the target three more times (each resolution
// opens every parent directory).
func (r *restorer) setMetaFile(f *os.File, n *snapshot.Node) error {
	if os.Geteuid() == 0 {
		if err := f.Chown(int(n.UID), int(n.GID)); err != nil && !errors.Is(err, syscall.EPERM) {
			return fmt.Errorf("restore: %w", err)
		}
	}
	if err := f.Chmod(fileMode(n.Mode)); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	mt := syscall.NsecToTimespec(n.MTime)
	ts := [2]syscall.Timespec{mt, mt}
	// utimensat(fd, NULL, times, 0) sets the times of fd itself (futimens).
	if _, _, e := syscall.Syscall6(syscall.SYS_UTIMENSAT, f.Fd(), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0); e != 0 {
		return fmt.Errorf("restore: set times of %s: %w", n.Path, e)
	}
	return nil
}

// runBytes bounds the chunks fetch reads with one read.
const runBytes = 1 << 20

// fetch reads chunk i of chunks, verified against its hash. When the
// chunks after it lie back to back with it in the same pack, up to
// runBytes of them are read at once (see [store.Store.ReadRun]). A chunk
// whose pack moved under a concurrent prune is looked up again.
func (r *restorer) fetch(ctx context.Context, chunks []snapshot.ChunkRef, i int, locs map[chunk.ID]store.Location, wb *workBufs) ([]byte, error) {
	id := chunks[i].ID
	l, ok := locs[id]
	if !ok {
		return nil, fmt.Errorf("chunk %s: %w", id.Short(), store.ErrNotFound)
	}
	if !wb.cb.Holds(l) {
		off := int64(l.Offset)
		end := off + int64(l.Length)
		for _, c := range chunks[i+1:] {
			next, ok := locs[c.ID]
			if !ok || next.Pack != l.Pack || int64(next.Offset) != end || end+int64(next.Length)-off > runBytes {
				break
			}
			end += int64(next.Length)
		}
		if end > off+int64(l.Length) {
			r.st.ReadRun(&wb.cb, l.Pack, off, end)
		}
	}
	out, err := r.st.ReadChunk(id, l, &wb.cb)
	if err != nil && errors.Is(err, fs.ErrNotExist) {
		return r.st.Get(ctx, id, nil)
	}
	return out, err
}

// zeroRange makes [off, off+n) of an existing file read as zeros, punching a
// hole where the filesystem allows and writing zeros elsewhere. Ranges that
// hold no data already are left alone.
func zeroRange(f *os.File, off, n int64) error {
	d, err := f.Seek(off, seekData)
	if err != nil || d >= off+n {
		if err != nil && !errors.Is(err, syscall.ENXIO) {
			return writeZeros(f, off, n)
		}
		return nil
	}
	if err := syscall.Fallocate(int(f.Fd()), fallocPunchHole|fallocKeepSize, off, n); err == nil {
		return nil
	}
	return writeZeros(f, off, n)
}

func writeZeros(f *os.File, off, n int64) error {
	zeros := make([]byte, min(n, 1<<20))
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if _, err := f.WriteAt(zeros[:k], off); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		off += k
		n -= k
	}
	return nil
}
