package directio

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// AsyncWriter writes a new file sequentially like [Writer], but hands each
// full buffer to a background write and goes on filling the next one, so
// that the caller keeps computing while the device writes. It holds
// len(bufs) buffers: when all of them are being written, Write waits for
// the oldest. Writes go to explicit offsets (pwrite), starting at 0; the
// file's own offset is not used.
//
// An AsyncWriter is not safe for concurrent use. Its buffers may be
// reused once [AsyncWriter.Flush] or [AsyncWriter.Wait] has returned.
type AsyncWriter struct {
	f    *os.File
	buf  []byte
	off  int64 // file offset of buf[0]
	free chan []byte
	wg   sync.WaitGroup

	mu     sync.Mutex // guards the fields below against background writes
	direct bool
	err    error
}

// NewAsyncWriter returns an AsyncWriter for the new (empty) file f,
// buffering in bufs: at least two buffers, each of a non-zero multiple of
// Align bytes, aligned ([AlignedBuf]). It turns O_DIRECT on for f when the
// filesystem allows it.
func NewAsyncWriter(f *os.File, bufs ...[]byte) *AsyncWriter {
	if len(bufs) < 2 {
		panic("directio: an AsyncWriter needs two buffers or more")
	}
	for _, b := range bufs {
		mustAlign(b)
	}
	w := &AsyncWriter{f: f, buf: bufs[0][:0], free: make(chan []byte, len(bufs)), direct: SetDirect(f, true) == nil}
	for _, b := range bufs[1:] {
		w.free <- b[:0]
	}
	return w
}

// Direct reports whether the writer still writes with O_DIRECT.
func (w *AsyncWriter) Direct() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.direct
}

// Write buffers p and starts the write of every buffer it fills. An error
// of an earlier background write is returned by the next Write, Flush or
// Wait.
func (w *AsyncWriter) Write(p []byte) (int, error) {
	if err := w.failed(); err != nil {
		return 0, err
	}
	n := len(p)
	for len(p) > 0 {
		w.buf, p = fill(w.buf, p)
		if len(w.buf) == cap(w.buf) {
			full, off := w.buf, w.off
			w.off += int64(len(full))
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				w.record(w.writeAt(full, off))
				w.free <- full[:0]
			}()
			w.buf = <-w.free
		}
	}
	return n, w.failed()
}

// Wait waits for the background writes and returns the first error any
// of them met.
func (w *AsyncWriter) Wait() error {
	w.wg.Wait()
	return w.failed()
}

// Flush waits for the background writes, then writes what remains
// buffered: the aligned part directly, the tail through the page cache
// (the file leaves direct mode for good). It does not sync the file.
func (w *AsyncWriter) Flush() error {
	if err := w.Wait(); err != nil {
		return err
	}
	k := len(w.buf)
	if w.Direct() {
		k &^= Align - 1
	}
	if err := w.writeAt(w.buf[:k], w.off); err != nil {
		w.record(err)
		return err
	}
	w.off += int64(k)
	w.buf = w.buf[:copy(w.buf, w.buf[k:])]
	if len(w.buf) == 0 {
		return nil
	}
	w.mu.Lock()
	err := SetDirect(w.f, false)
	if err == nil {
		w.direct = false
	}
	w.mu.Unlock()
	if err == nil {
		err = w.writeAt(w.buf, w.off)
	}
	if err != nil {
		w.record(err)
		return err
	}
	w.off += int64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

// writeAt writes b at off, falling back to the page cache if the
// filesystem took O_DIRECT but refuses these writes (an alignment larger
// than Align).
func (w *AsyncWriter) writeAt(b []byte, off int64) error {
	if len(b) == 0 {
		return nil
	}
	n, err := w.f.WriteAt(b, off)
	if err != nil && n == 0 && errors.Is(err, unix.EINVAL) {
		w.mu.Lock()
		if w.direct {
			if serr := SetDirect(w.f, false); serr == nil {
				w.direct = false
			}
		}
		retry := !w.direct
		w.mu.Unlock()
		if retry {
			_, err = w.f.WriteAt(b, off)
		}
	}
	if err != nil {
		return fmt.Errorf("directio: write %s at %d: %w", w.f.Name(), off, err)
	}
	return nil
}

func (w *AsyncWriter) record(err error) {
	if err == nil {
		return
	}
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

func (w *AsyncWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
