package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/understudy/understudy/pkg/atomicfile"
)

// tmpPrefix marks the filesystem backend's files being written.
const tmpPrefix = ".tmp-"

// FS is a [Backend] on a local or mounted filesystem (a NAS mount). An
// object is a file under the root directory; writes go to a temporary file
// in the same directory, are synced and renamed over the name, and the
// directory is synced, so an object is durable and whole once Put returns.
type FS struct {
	root string
}

// NewFS returns a backend storing objects under root, which is created if
// missing.
func NewFS(root string) (*FS, error) {
	if root == "" {
		return nil, errors.New("archive: filesystem archive path is empty")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	return &FS{root: abs}, nil
}

// String implements [Backend].
func (f *FS) String() string { return "fs:" + f.root }

func (f *FS) path(name string) (string, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	return filepath.Join(f.root, filepath.FromSlash(name)), nil
}

// Put implements [Backend].
func (f *FS) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	p, err := f.path(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Dir(p)
	_, statErr := os.Stat(dir)
	newDir := errors.Is(statErr, fs.ErrNotExist)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("archive: put %s: %w", name, err)
	}
	tmp, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("archive: put %s: %w", name, err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, ctxReader{ctx, r})
	if err != nil {
		return fmt.Errorf("archive: put %s: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("archive: put %s: read %d bytes, expected %d", name, n, size)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("archive: put %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("archive: put %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("archive: put %s: %w", name, err)
	}
	ok = true
	if err := atomicfile.SyncDir(dir); err != nil {
		return err
	}
	if newDir {
		// The new directories' own entries must be durable too.
		for d := filepath.Dir(dir); len(d) >= len(f.root); d = filepath.Dir(d) {
			if err := atomicfile.SyncDir(d); err != nil {
				return err
			}
			if d == f.root {
				break
			}
		}
	}
	return nil
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Get implements [Backend].
func (f *FS) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	p, err := f.path(name)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	file, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("archive: get %s: %w", name, err)
	}
	return file, nil
}

// Stat implements [Backend].
func (f *FS) Stat(ctx context.Context, name string) (ObjectInfo, error) {
	p, err := f.path(name)
	if err != nil {
		return ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) || err == nil && !fi.Mode().IsRegular() {
		return ObjectInfo{}, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("archive: stat %s: %w", name, err)
	}
	return ObjectInfo{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// List implements [Backend].
func (f *FS) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := validPrefix(prefix); err != nil {
		return err
	}
	// Walk from the deepest directory the prefix names.
	start := f.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = filepath.Join(f.root, filepath.FromSlash(prefix[:i]))
	}
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), tmpPrefix) || !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(f.root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if !strings.HasPrefix(name, prefix) {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		return fn(ObjectInfo{Name: name, Size: fi.Size(), ModTime: fi.ModTime()})
	})
	if err != nil {
		return fmt.Errorf("archive: list %s%s: %w", f, "/"+prefix, err)
	}
	return nil
}

// Delete implements [Backend].
func (f *FS) Delete(ctx context.Context, name string) error {
	p, err := f.path(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("archive: delete %s: %w", name, err)
	}
	return nil
}
