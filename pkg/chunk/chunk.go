package chunk

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/restic/chunker"
)

// Size is the length of an [ID] in bytes.
const Size = sha256.Size

// ID names a chunk: the SHA-256 of its plaintext.
type ID [Size]byte

// Sum returns the ID of data.
func Sum(data []byte) ID { return sha256.Sum256(data) }

// String returns the ID in lower-case hex.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first eight hex digits, for messages.
func (id ID) Short() string { return hex.EncodeToString(id[:4]) }

// IsZero reports whether id is the zero ID, which names no chunk.
func (id ID) IsZero() bool { return id == ID{} }

// MarshalText encodes the ID as hex.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText decodes a hex ID.
func (id *ID) UnmarshalText(b []byte) error {
	p, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// ErrBadID is returned by [ParseID] for text that is not a hex SHA-256.
var ErrBadID = errors.New("chunk: malformed chunk id")

// ParseID decodes a 64-digit hex ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*Size {
		return id, fmt.Errorf("%w: %q", ErrBadID, s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%w: %q", ErrBadID, s)
	}
	return id, nil
}

// Polynomial is the irreducible polynomial of the rolling hash. Every store
// has its own, chosen at random when the store is created.
type Polynomial uint64

// RandomPolynomial returns a new random irreducible polynomial of degree 53.
func RandomPolynomial() (Polynomial, error) {
	p, err := chunker.RandomPolynomial()
	if err != nil {
		return 0, fmt.Errorf("chunk: random polynomial: %w", err)
	}
	return Polynomial(p), nil
}

// ErrBadPolynomial is returned for a polynomial that cannot drive the
// chunker (zero, reducible, or of the wrong degree).
var ErrBadPolynomial = errors.New("chunk: polynomial is not irreducible of degree 53")

// Validate reports whether p can be used for chunking.
func (p Polynomial) Validate() error {
	cp := chunker.Pol(p)
	if p == 0 || cp.Deg() != 53 || !cp.Irreducible() {
		return fmt.Errorf("%w: %#x", ErrBadPolynomial, uint64(p))
	}
	return nil
}

// Class is a data class; it decides the chunk size bounds.
type Class string

// The data classes of DESIGN.md.
const (
	ClassUser          Class = "user"
	ClassState         Class = "state"
	ClassTransactional Class = "transactional"
	ClassLog           Class = "log"
)

// ErrUnknownClass is returned by [ParamsFor] and [Class.Validate] for a
// class that is not one of the four data classes.
var ErrUnknownClass = errors.New("chunk: unknown data class")

// Validate reports whether c is one of the known classes.
func (c Class) Validate() error {
	switch c {
	case ClassUser, ClassState, ClassTransactional, ClassLog:
		return nil
	}
	return fmt.Errorf("%w %q (want user, state, transactional or log)", ErrUnknownClass, string(c))
}

// Params are the size bounds of the chunker.
type Params struct {
	Min, Max    uint // bytes
	AverageBits int  // average chunk size is 1<<AverageBits
}

// ParamsFor returns the chunk size bounds for a data class.
func ParamsFor(c Class) (Params, error) {
	if err := c.Validate(); err != nil {
		return Params{}, err
	}
	if c == ClassTransactional {
		return Params{Min: 48 << 10, Max: 256 << 10, AverageBits: 14}, nil
	}
	return Params{Min: chunker.MinSize, Max: chunker.MaxSize, AverageBits: 20}, nil
}

// DatabaseParams are the chunk size bounds of database files: 4 KiB to
// 64 KiB, about 12 KiB on average, close to the 4–16 KiB pages that
// databases rewrite in place. A rewritten page then costs the page and
// about one neighbouring chunk (tens of KiB) where the transactional bounds
// cost a 64 KiB chunk and its neighbour.
var DatabaseParams = Params{Min: 4 << 10, Max: 64 << 10, AverageBits: 13}

// dbSuffixes and dbPrefixes recognise database files by name: they are
// rewritten in place page by page, so they get small chunks whatever the
// dataset's class.
var (
	dbSuffixes = []string{".db", ".db3", ".sqlite", ".sqlite3", ".ibd", ".myd", ".myi", ".frm", ".mdb", ".ldb", ".wt", ".wal", "-wal", "-shm", "-journal"}
	dbPrefixes = []string{"ibdata", "ib_logfile", "undo_"}
)

// IsDatabaseFile reports whether a file name (its base name) looks like a
// database file: SQLite, InnoDB/MyISAM, LMDB, WiredTiger and their logs.
func IsDatabaseFile(name string) bool {
	n := strings.ToLower(name)
	for _, s := range dbSuffixes {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	for _, p := range dbPrefixes {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

// ParamsForFile returns the chunk size bounds for one file of a dataset of
// class c: the class's bounds, except that database files ([IsDatabaseFile])
// always get the page-sized [DatabaseParams]. The choice depends only on
// the class and the name, so a file is cut the same way in every snapshot.
func ParamsForFile(c Class, name string) (Params, error) {
	if err := c.Validate(); err != nil {
		return Params{}, err
	}
	if IsDatabaseFile(name) {
		return DatabaseParams, nil
	}
	return ParamsFor(c)
}

// Chunker cuts a stream into content-defined chunks. It is not safe for
// concurrent use; reuse one per goroutine with [Chunker.Reset].
type Chunker struct {
	c   *chunker.Chunker
	pol Polynomial
	p   Params
}

// New returns a chunker reading from r.
func New(r io.Reader, pol Polynomial, p Params) *Chunker {
	c := chunker.NewWithBoundaries(r, chunker.Pol(pol), p.Min, p.Max)
	c.SetAverageBits(p.AverageBits)
	return &Chunker{c: c, pol: pol, p: p}
}

// Reset makes the chunker read from r, keeping its polynomial, bounds and
// buffers.
func (c *Chunker) Reset(r io.Reader) {
	c.c.ResetWithBoundaries(r, chunker.Pol(c.pol), c.p.Min, c.p.Max)
	c.c.SetAverageBits(c.p.AverageBits)
}

// Next returns the next chunk, stored in buf (grown if needed; pass a buffer
// of [Params].Max bytes to avoid allocations). It returns io.EOF after the
// last chunk.
func (c *Chunker) Next(buf []byte) ([]byte, error) {
	ch, err := c.c.Next(buf)
	if err != nil {
		return nil, err
	}
	return ch.Data, nil
}
