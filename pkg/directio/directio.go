// Package directio writes files sequentially with O_DIRECT where the
// filesystem allows it, so that data written once and not read back soon
// (pack files, restored files) skips the copy into the page cache.
//
// O_DIRECT needs buffers, lengths and file offsets aligned to the device's
// logical block size. A [Writer] collects what it is given in an aligned
// buffer and writes whole buffers; [Writer.Flush] writes the aligned part
// of what remains directly and the unaligned tail through the page cache.
// Where O_DIRECT is refused, everything goes through the page cache.
package directio

import (
	"errors"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Align is the alignment of buffers, lengths and offsets for O_DIRECT: the
// largest logical block size in common use.
const Align = 4096

// AlignedBuf returns an n-byte slice whose first byte is aligned to Align.
func AlignedBuf(n int) []byte {
	b := make([]byte, n+Align)
	off := int(-uintptr(unsafe.Pointer(&b[0])) & (Align - 1))
	return b[off : off+n : off+n]
}

// SetDirect turns O_DIRECT on or off for an open file.
func SetDirect(f *os.File, on bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		if err != nil {
			serr = err
			return
		}
		if on {
			fl |= unix.O_DIRECT
		} else {
			fl &^= unix.O_DIRECT
		}
		_, serr = unix.FcntlInt(fd, unix.F_SETFL, fl)
	})
	return errors.Join(err, serr)
}

// Writer writes a file sequentially from its current offset, which must
// be a multiple of Align (a new file's 0).
type Writer struct {
	f      *os.File
	buf    []byte
	direct bool
}

// NewWriter returns a Writer for f that buffers in buf, whose capacity
// must be a non-zero multiple of Align and whose start must be aligned
// ([AlignedBuf]). It turns O_DIRECT on for f when the filesystem allows it.
func NewWriter(f *os.File, buf []byte) *Writer {
	mustAlign(buf)
	return &Writer{f: f, buf: buf[:0], direct: SetDirect(f, true) == nil}
}

// mustAlign panics unless buf can be written directly: a non-zero
// capacity that is a multiple of Align, and an aligned start.
func mustAlign(buf []byte) {
	if cap(buf) == 0 || cap(buf)%Align != 0 || uintptr(unsafe.Pointer(unsafe.SliceData(buf[:1])))%Align != 0 {
		panic("directio: buffer not aligned")
	}
}

// fill copies as much of p as fits into buf's spare capacity, and returns
// buf extended and the rest of p.
func fill(buf, p []byte) ([]byte, []byte) {
	k := copy(buf[len(buf):cap(buf)], p)
	return buf[:len(buf)+k], p[k:]
}

// Direct reports whether the writer still writes with O_DIRECT.
func (w *Writer) Direct() bool { return w.direct }

// Write buffers p, writing whole buffers as they fill.
func (w *Writer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		w.buf, p = fill(w.buf, p)
		if len(w.buf) == cap(w.buf) {
			if err := w.write(len(w.buf)); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// write writes the first k buffered bytes and keeps the rest.
func (w *Writer) write(k int) error {
	if k == 0 {
		return nil
	}
	n, err := w.f.Write(w.buf[:k])
	if err != nil && w.direct && n == 0 && errors.Is(err, unix.EINVAL) {
		// The filesystem took the flag but refuses these writes (an
		// alignment larger than Align): write through the page cache.
		if err = SetDirect(w.f, false); err == nil {
			w.direct = false
			_, err = w.f.Write(w.buf[:k])
		}
	}
	if err != nil {
		return err
	}
	w.buf = w.buf[:copy(w.buf, w.buf[k:])]
	return nil
}

// Flush writes everything buffered: the aligned part directly, then the
// tail through the page cache (the file leaves direct mode for good). It
// does not sync the file.
func (w *Writer) Flush() error {
	if w.direct {
		if err := w.write(len(w.buf) &^ (Align - 1)); err != nil {
			return err
		}
		if len(w.buf) == 0 {
			return nil
		}
		if err := SetDirect(w.f, false); err != nil {
			return err
		}
		w.direct = false
	}
	return w.write(len(w.buf))
}
