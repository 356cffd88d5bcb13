package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/understudy/understudy/pkg/atomicfile"
)

// Records are small named values kept beside the chunks, one file each under
// records/<kind>/<name>: snapshot records live there. A record is written
// atomically (temporary file, fsync, rename), so readers see either the old
// or the new value, never a torn one. With a key, records are encrypted.

// ErrBadName is returned for record kinds or names that are not plain file
// names.
var ErrBadName = errors.New("store: bad record name")

func checkName(s string) error {
	if s == "" || strings.HasPrefix(s, ".") || len(s) > 200 {
		return fmt.Errorf("%w: %q", ErrBadName, s)
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return fmt.Errorf("%w: %q", ErrBadName, s)
		}
	}
	return nil
}

func recordAAD(kind, name string) string { return "record/" + kind + "/" + name }

// ListRecords returns the names of the records of one kind, sorted.
func (s *Store) ListRecords(ctx context.Context, kind string) ([]string, error) {
	if err := checkName(kind); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(filepath.Join(s.dir, recordsDir, kind))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: list records: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && checkName(e.Name()) == nil {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// ReadRecord returns a record's value.
func (s *Store) ReadRecord(ctx context.Context, kind, name string) ([]byte, error) {
	if err := errors.Join(checkName(kind), checkName(name)); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(s.dir, recordsDir, kind, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s %s", ErrNotFound, kind, name)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read record: %w", err)
	}
	v, err := s.codec.openRecord(recordAAD(kind, name), b)
	if err != nil {
		return nil, fmt.Errorf("record %s/%s: %w", kind, name, err)
	}
	return v, nil
}

// SaveRecord writes a record atomically. Callers make sure everything the
// record refers to is durable first (see [Writer.Flush]).
func (w *Writer) SaveRecord(ctx context.Context, kind, name string, value []byte) error {
	if err := errors.Join(checkName(kind), checkName(name)); err != nil {
		return err
	}
	if err := w.usable(ctx); err != nil {
		return err
	}
	dir := filepath.Join(w.s.dir, recordsDir, kind)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("store: save record: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, name), w.s.codec.sealRecord(recordAAD(kind, name), value), ".tmp-"); err != nil {
		return fmt.Errorf("store: save record %s/%s: %w", kind, name, err)
	}
	return nil
}

// DeleteRecord removes a record; removing a missing one is not an error.
func (w *Writer) DeleteRecord(ctx context.Context, kind, name string) error {
	if err := errors.Join(checkName(kind), checkName(name)); err != nil {
		return err
	}
	if err := w.usable(ctx); err != nil {
		return err
	}
	dir := filepath.Join(w.s.dir, recordsDir, kind)
	if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: delete record: %w", err)
	}
	return atomicfile.SyncDir(dir)
}
