package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Backend stores named objects in archive storage. Names are relative,
// slash-separated paths of letters, digits, '.', '_' and '-' (see
// [ValidName]); the archive uses "config", "snapshots/ID" and
// "chunks/XX/ID".
//
// Every method takes a context and returns when it is done or the context
// ends. Implementations are safe for concurrent use. Errors wrap
// [ErrNotFound] when the object does not exist and [ErrBadName] when the
// name is not valid; anything else is a storage or network failure that a
// later attempt may not repeat.
type Backend interface {
	// Put stores the size bytes read from r under name, replacing any
	// object of that name. The object appears whole or not at all: a
	// reader never sees part of it, and a failed or cancelled Put leaves
	// the previous object (or none). When Put returns nil the object is
	// durable.
	Put(ctx context.Context, name string, r io.Reader, size int64) error
	// Get opens an object for reading. The caller closes it.
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	// Stat returns an object's size and modification time.
	Stat(ctx context.Context, name string) (ObjectInfo, error)
	// List calls fn for every object whose name starts with prefix, in no
	// particular order. An error from fn stops the listing and is
	// returned.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
	// Delete removes an object. Deleting a missing object is not an error.
	Delete(ctx context.Context, name string) error
	// String names the backend for logs and messages ("fs:/mnt/nas",
	// "s3:host/bucket/prefix").
	String() string
}

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// Errors callers branch on with errors.Is.
var (
	// ErrNotFound: no object of that name.
	ErrNotFound = errors.New("archive: object not found")
	// ErrBadName: the object name is not valid (see [ValidName]).
	ErrBadName = errors.New("archive: bad object name")
	// ErrMismatch: the archive holds data of another store family (another
	// chunking polynomial or key) than the one being copied.
	ErrMismatch = errors.New("archive: archive belongs to another store family")
	// ErrDamaged: an object read from the archive failed its check.
	ErrDamaged = errors.New("archive: damaged object")
)

// ValidName reports whether name is a valid object name: non-empty,
// relative, slash-separated components that are neither "." nor "..",
// nor start with ".tmp-" (the filesystem backend's temporary files), made
// of ASCII letters, digits, '.', '_' and '-'.
func ValidName(name string) error {
	if name == "" || len(name) > 512 {
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." || strings.HasPrefix(part, tmpPrefix) {
			return fmt.Errorf("%w: %q", ErrBadName, name)
		}
		for _, c := range []byte(part) {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
			if !ok {
				return fmt.Errorf("%w: %q", ErrBadName, name)
			}
		}
	}
	return nil
}

// validPrefix accepts "" and prefixes that are valid names or end in '/'.
func validPrefix(prefix string) error {
	p := strings.TrimSuffix(prefix, "/")
	if p == "" {
		if prefix == "" {
			return nil
		}
		return fmt.Errorf("%w: prefix %q", ErrBadName, prefix)
	}
	return ValidName(p)
}

// readAll reads an object whole, refusing objects above max bytes.
func readAll(ctx context.Context, b Backend, name string, max int64) ([]byte, error) {
	rc, err := b.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, fmt.Errorf("archive: read %s from %s: %w", name, b, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrDamaged, name, max)
	}
	return data, nil
}
