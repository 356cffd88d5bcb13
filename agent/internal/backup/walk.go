package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/understudy/understudy/pkg/snapshot"
)

// walk visits the dataset in walk order and hands every node to the
// manifest writer, and the files to read to the readers.
func (b *run) walk(ctx context.Context) error {
	// The dataset root may be a symlink to the directory; follow it.
	fi, err := os.Stat(b.root)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return b.visit(ctx, b.root, ".", fi)
}

func (b *run) emit(ctx context.Context, it *item) error {
	if it.done != nil {
		b.prefetch(it)
		select {
		case b.jobs <- it:
		case <-ctx.Done():
			if it.f != nil {
				it.f.Close()
			}
			return ctx.Err()
		}
	}
	select {
	case b.items <- it:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *run) visit(ctx context.Context, path, rel string, fi fs.FileInfo) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("backup: %s: no unix stat", path)
	}
	n := &snapshot.Node{
		Path:  rel,
		Mode:  unixMode(fi.Mode()),
		UID:   st.Uid,
		GID:   st.Gid,
		MTime: fi.ModTime().UnixNano(),
	}
	switch fi.Mode().Type() {
	case fs.ModeDir:
		n.Type = snapshot.TypeDir
		if err := b.emit(ctx, &item{node: n}); err != nil {
			return err
		}
		ents, err := os.ReadDir(path)
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		for _, e := range ents {
			cpath := filepath.Join(path, e.Name())
			if cpath == b.storeDir {
				continue // never back up the store into itself
			}
			cfi, err := os.Lstat(cpath)
			if errors.Is(err, fs.ErrNotExist) {
				continue // vanished since the listing
			}
			if err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			if err := b.visit(ctx, cpath, snapshot.Join(rel, e.Name()), cfi); err != nil {
				return err
			}
		}
		return nil
	case fs.ModeSymlink:
		n.Type = snapshot.TypeSymlink
		t, err := os.Readlink(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		n.Target = t
		return b.emit(ctx, &item{node: n})
	case 0:
		n.Type = snapshot.TypeFile
		n.Size = fi.Size()
		n.Inode = st.Ino
		n.CTime = st.Ctim.Nano()
		if st.Nlink > 1 {
			key := devIno{uint64(st.Dev), st.Ino}
			if first, ok := b.links[key]; ok {
				n.Type = snapshot.TypeHardlink
				n.Link = first
				n.Size, n.Inode, n.CTime = 0, 0, 0
				return b.emit(ctx, &item{node: n})
			}
			b.links[key] = rel
		}
		p := b.parent.Find(rel)
		if p != nil && b.unchanged(p, n) {
			n.Chunks = p.Chunks
			return b.emit(ctx, &item{node: n})
		}
		it := &item{node: n, path: path, done: make(chan struct{})}
		if p != nil && p.Type == snapshot.TypeFile && p.Size > 0 && p.Size < n.Size {
			it.grown = p
		}
		return b.emit(ctx, it)
	default:
		b.opts.Logger.Warn("special file skipped", "path", path, "mode", fi.Mode().String())
		return nil
	}
}

// unchanged reports whether the parent's node p describes the same file
// content as n (same size, mtime, ctime and inode), with every chunk still
// in the store.
func (b *run) unchanged(p, n *snapshot.Node) bool {
	if p.Type != snapshot.TypeFile || p.Size != n.Size || p.MTime != n.MTime || p.CTime != n.CTime || p.Inode != n.Inode {
		return false
	}
	for _, c := range p.Chunks {
		if !b.w.Has(c.ID) {
			return false
		}
	}
	return true
}

// unixMode converts Go's mode bits to the Unix 07777 bits.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// scan counts files and bytes for the progress line's totals.
func scan(ctx context.Context, root string, p *Progress) {
	_ = filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			p.FilesTotal.Add(1)
			p.BytesTotal.Add(fi.Size())
		}
		return nil
	})
	p.ScanDone.Store(ctx.Err() == nil)
}
