package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/understudy/understudy/pkg/chunk"
)

// A chunk stream is a sequence of frames, each a [FrameHeader] (the chunk
// ID, then its stored length as a big-endian uint32) followed by that many
// bytes of the chunk's stored form. The stream ends with an end frame: an
// all-zero ID whose length field holds the number of chunk frames sent, so
// that a stream cut between frames is never mistaken for a complete one.

// FrameHeaderSize is the size of a frame header.
const FrameHeaderSize = chunk.Size + 4

// MaxFrameSize bounds the stored bytes of one frame: the largest chunk
// plus room for the blob's flag, nonce and tag (and an incompressible
// chunk's framing).
const MaxFrameSize = 16<<20 + 1<<16

// Errors of frame decoding.
var (
	// ErrFrameTooLarge: a frame announced more than MaxFrameSize bytes.
	ErrFrameTooLarge = errors.New("wire: frame too large")
	// ErrFrameCount: the end frame's count disagrees with the frames read.
	ErrFrameCount = errors.New("wire: frame count mismatch")
)

// WriteFrame writes one chunk frame.
func WriteFrame(w io.Writer, id chunk.ID, stored []byte) error {
	if len(stored) > MaxFrameSize {
		return fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, len(stored))
	}
	var h [FrameHeaderSize]byte
	copy(h[:], id[:])
	binary.BigEndian.PutUint32(h[chunk.Size:], uint32(len(stored)))
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(stored)
	return err
}

// WriteEnd writes the end frame after n chunk frames.
func WriteEnd(w io.Writer, n int) error {
	var h [FrameHeaderSize]byte
	binary.BigEndian.PutUint32(h[chunk.Size:], uint32(n))
	_, err := w.Write(h[:])
	return err
}

// FrameReader reads a chunk stream one frame at a time, reusing one
// buffer, so memory stays at one frame whatever the stream's length.
type FrameReader struct {
	r   io.Reader
	buf []byte
	n   int
}

// NewFrameReader reads frames from r.
func NewFrameReader(r io.Reader) *FrameReader { return &FrameReader{r: r} }

// Next returns the next chunk frame. The bytes are valid until the next
// call. At a well-formed end frame it returns io.EOF; a stream that stops
// anywhere else returns io.ErrUnexpectedEOF (or the reader's error).
func (fr *FrameReader) Next() (chunk.ID, []byte, error) {
	var h [FrameHeaderSize]byte
	if _, err := io.ReadFull(fr.r, h[:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return chunk.ID{}, nil, err
	}
	var id chunk.ID
	copy(id[:], h[:chunk.Size])
	n := binary.BigEndian.Uint32(h[chunk.Size:])
	if id.IsZero() {
		if int(n) != fr.n {
			return chunk.ID{}, nil, fmt.Errorf("%w: end frame says %d, read %d", ErrFrameCount, n, fr.n)
		}
		return chunk.ID{}, nil, io.EOF
	}
	if n > MaxFrameSize {
		return chunk.ID{}, nil, fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, n)
	}
	if cap(fr.buf) < int(n) {
		fr.buf = make([]byte, n)
	}
	b := fr.buf[:n]
	if _, err := io.ReadFull(fr.r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return chunk.ID{}, nil, err
	}
	fr.n++
	return id, b, nil
}
