package snapshot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/store"
)

// RecordVersion is the version of the record format.
const RecordVersion = 1

// recordKind is the store record kind that holds snapshot records.
const recordKind = "snapshots"

// Record describes one snapshot.
type Record struct {
	Version int         `json:"version"`
	ID      string      `json:"id"`
	Dataset string      `json:"dataset"`
	Host    string      `json:"host"`
	Class   chunk.Class `json:"class"`
	Time    time.Time   `json:"time"`
	Parent  string      `json:"parent,omitempty"`
	Tags    []string    `json:"tags,omitempty"`
	// Source is the directory the snapshot was taken from.
	Source string `json:"source,omitempty"`
	// Tree lists, in order, the chunks whose concatenation is the
	// manifest.
	Tree  []chunk.ID `json:"tree"`
	Stats Stats      `json:"stats"`
}

// Stats summarise a snapshot and the backup that made it.
type Stats struct {
	Files     int64 `json:"files"`
	Dirs      int64 `json:"dirs"`
	Symlinks  int64 `json:"symlinks"`
	Hardlinks int64 `json:"hardlinks"`
	// Bytes is the total size of the files, holes included.
	Bytes int64 `json:"bytes"`
	// FilesUnchanged were taken from the parent without being read.
	FilesUnchanged int64 `json:"files_unchanged"`
	FilesRead      int64 `json:"files_read"`
	BytesRead      int64 `json:"bytes_read"`
	ChunksNew      int64 `json:"chunks_new"`
	// BytesNew is the plaintext size of the new chunks, BytesAdded what
	// they (and the manifest) added to the store after compression and
	// encryption.
	BytesNew   int64   `json:"bytes_new"`
	BytesAdded int64   `json:"bytes_added"`
	Seconds    float64 `json:"seconds"`
}

// NewID returns a fresh random snapshot ID (32 hex digits).
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("snapshot: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// ShortID returns the first eight digits of a snapshot ID.
func ShortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// Errors of record lookups.
var (
	ErrNotFound  = errors.New("snapshot: no such snapshot")
	ErrAmbiguous = errors.New("snapshot: id prefix matches several snapshots")
	ErrBadRecord = errors.New("snapshot: bad record")
)

func (r *Record) validate() error {
	var errs []error
	if r.Version != RecordVersion {
		errs = append(errs, fmt.Errorf("version %d, this build reads %d", r.Version, RecordVersion))
	}
	if len(r.ID) != 32 {
		errs = append(errs, fmt.Errorf("id %q is not 32 hex digits", r.ID))
	} else if _, err := hex.DecodeString(r.ID); err != nil {
		errs = append(errs, fmt.Errorf("id %q is not hex", r.ID))
	}
	if r.Dataset == "" {
		errs = append(errs, errors.New("no dataset"))
	}
	if len(r.Tree) == 0 {
		errs = append(errs, errors.New("no tree"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRecord, err)
	}
	return nil
}

// ErrIncomplete is returned by [Save] when the manifest's chunks are not
// in the store.
var ErrIncomplete = errors.New("snapshot: manifest chunks missing from the store")

// Save commits a record atomically. It flushes w first and refuses a record
// whose manifest chunks are not in the store; the chunks of the files must
// be there too (the backup puts them before the manifest; the mirror must
// send them first): a saved record is a complete, restorable snapshot.
func Save(ctx context.Context, w *store.Writer, r *Record) error {
	if err := r.validate(); err != nil {
		return err
	}
	if err := w.Flush(ctx); err != nil {
		return err
	}
	for _, id := range r.Tree {
		if !w.Has(id) {
			return fmt.Errorf("%w: snapshot %s needs %s", ErrIncomplete, ShortID(r.ID), id.Short())
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return w.SaveRecord(ctx, recordKind, r.ID, b)
}

// Delete removes a record (the snapshot's data goes at the next prune).
func Delete(ctx context.Context, w *store.Writer, id string) error {
	return w.DeleteRecord(ctx, recordKind, id)
}

// Load reads the record whose ID is id or starts with id (at least four
// digits).
func Load(ctx context.Context, s *store.Store, id string) (*Record, error) {
	names, err := s.ListRecords(ctx, recordKind)
	if err != nil {
		return nil, err
	}
	var match []string
	for _, n := range names {
		if n == id {
			match = []string{n}
			break
		}
		if len(id) >= 4 && strings.HasPrefix(n, id) {
			match = append(match, n)
		}
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	case 1:
	default:
		return nil, fmt.Errorf("%w: %q", ErrAmbiguous, id)
	}
	return read(ctx, s, match[0])
}

func read(ctx context.Context, s *store.Store, name string) (*Record, error) {
	b, err := s.ReadRecord(ctx, recordKind, name)
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrBadRecord, name, err)
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", name, err)
	}
	if r.ID != name {
		return nil, fmt.Errorf("%w: file %s holds snapshot %s", ErrBadRecord, name, r.ID)
	}
	return &r, nil
}

// List returns all records, oldest first; with dataset set, only that
// dataset's. Unreadable records are returned in the error (joined) while
// the readable ones are still listed.
func List(ctx context.Context, s *store.Store, dataset string) ([]*Record, error) {
	names, err := s.ListRecords(ctx, recordKind)
	if err != nil {
		return nil, err
	}
	var out []*Record
	var errs []error
	for _, n := range names {
		r, err := read(ctx, s, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if dataset == "" || r.Dataset == dataset {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].ID < out[j].ID
	})
	return out, errors.Join(errs...)
}

// Latest returns the newest of recs (sorted oldest first, as [List]
// returns them) taken at or before at; a zero at means the newest of all.
func Latest(recs []*Record, at time.Time) (*Record, error) {
	for i := len(recs) - 1; i >= 0; i-- {
		if at.IsZero() || !recs[i].Time.After(at) {
			return recs[i], nil
		}
	}
	if at.IsZero() {
		return nil, fmt.Errorf("%w: the store holds none", ErrNotFound)
	}
	return nil, fmt.Errorf("%w at or before %s", ErrNotFound, at.Format(time.RFC3339))
}
