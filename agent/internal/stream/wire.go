package stream

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/understudy/understudy/pkg/snapshot"
)

// op is the kind of an update.
type op byte

const (
	// opWrite writes data at off, creating the file (and its parent
	// directories) when missing.
	opWrite op = 1
	// opTruncate sets the file's size to off, creating it when missing.
	opTruncate op = 2
	// opRemove removes the file; a missing file is not an error.
	opRemove op = 3
)

// update is one change of the dataset, numbered by the sender. Applying
// updates in sequence order reproduces the sender's files; applying one
// twice is harmless (writes are positional), which makes resending safe.
type update struct {
	seq  uint64
	op   op
	path string
	off  int64
	data []byte
	// observed is when the sender first saw the change (not sent).
	observed time.Time
}

// Protocol limits, enforced by the receiver.
const (
	maxPathLen   = 4096
	maxWriteSize = 4 << 20
	// writePiece is the largest write the sender emits.
	writePiece = 1 << 20
)

// bodyMagic starts every apply request body.
const bodyMagic = "USSTRM1\n"

// errBadBody: the request body is not a well-formed update stream.
var errBadBody = errors.New("stream: malformed update")

func (u *update) size() int64 { return int64(len(u.data)) + int64(len(u.path)) + 32 }

// appendUpdate encodes u: uvarint seq, op byte, uvarint path length, path,
// uvarint off, uvarint data length, data.
func appendUpdate(b []byte, u *update) []byte {
	b = binary.AppendUvarint(b, u.seq)
	b = append(b, byte(u.op))
	b = binary.AppendUvarint(b, uint64(len(u.path)))
	b = append(b, u.path...)
	b = binary.AppendUvarint(b, uint64(u.off))
	b = binary.AppendUvarint(b, uint64(len(u.data)))
	return append(b, u.data...)
}

// decoder reads updates from an apply request body.
type decoder struct {
	r *bufio.Reader
}

func newDecoder(r io.Reader) (*decoder, error) {
	d := &decoder{r: bufio.NewReaderSize(r, 64<<10)}
	magic := make([]byte, len(bodyMagic))
	if _, err := io.ReadFull(d.r, magic); err != nil || string(magic) != bodyMagic {
		return nil, fmt.Errorf("%w: bad header", errBadBody)
	}
	return d, nil
}

// next decodes the next update into u, reusing u.data. It returns io.EOF
// at a clean end of the body.
func (d *decoder) next(u *update) error {
	seq, err := binary.ReadUvarint(d.r)
	if err == io.EOF {
		return io.EOF
	}
	if err != nil {
		return fmt.Errorf("%w: %v", errBadBody, err)
	}
	o, err := d.r.ReadByte()
	if err != nil {
		return fmt.Errorf("%w: %v", errBadBody, err)
	}
	pl, err := binary.ReadUvarint(d.r)
	if err != nil || pl == 0 || pl > maxPathLen {
		return fmt.Errorf("%w: path length", errBadBody)
	}
	path := make([]byte, pl)
	if _, err := io.ReadFull(d.r, path); err != nil {
		return fmt.Errorf("%w: %v", errBadBody, err)
	}
	off, err := binary.ReadUvarint(d.r)
	if err != nil || off > 1<<62 {
		return fmt.Errorf("%w: offset", errBadBody)
	}
	dl, err := binary.ReadUvarint(d.r)
	if err != nil || dl > maxWriteSize {
		return fmt.Errorf("%w: data length", errBadBody)
	}
	if cap(u.data) < int(dl) {
		u.data = make([]byte, dl)
	}
	u.data = u.data[:dl]
	if _, err := io.ReadFull(d.r, u.data); err != nil {
		return fmt.Errorf("%w: %v", errBadBody, err)
	}
	u.seq, u.op, u.path, u.off = seq, op(o), string(path), int64(off)
	switch {
	case u.op != opWrite && u.op != opTruncate && u.op != opRemove:
		return fmt.Errorf("%w: unknown operation %d", errBadBody, o)
	case u.op != opWrite && dl != 0:
		return fmt.Errorf("%w: data on a %d operation", errBadBody, o)
	case u.path == ".":
		return fmt.Errorf("%w: the dataset root is not a file", errBadBody)
	}
	if err := snapshot.ValidPath(u.path); err != nil {
		return fmt.Errorf("%w: %v", errBadBody, err)
	}
	return nil
}

// sessionResponse answers a session request: the receiver's position and
// its copy, as sizes and block hashes, for the sender's model.
type sessionResponse struct {
	Session string       `json:"session"`
	Applied uint64       `json:"applied"`
	Files   []remoteFile `json:"files"`
}

type remoteFile struct {
	Path   string      `json:"path"`
	Size   int64       `json:"size"`
	Blocks []blockHash `json:"blocks"`
}

// applyResponse answers an apply request. Error is set with status 409:
// "gap" (the receiver needs Applied+1 first) or "session" (another sender
// session took over).
type applyResponse struct {
	Applied uint64 `json:"applied"`
	Error   string `json:"error,omitempty"`
}

const (
	conflictGap     = "gap"
	conflictSession = "session"
)
