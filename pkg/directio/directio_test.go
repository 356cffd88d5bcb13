package directio

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

func TestAlignedBuf(t *testing.T) {
	for range 10 {
		b := AlignedBuf(3 * Align)
		if len(b) != 3*Align || cap(b) != 3*Align {
			t.Fatalf("len %d cap %d", len(b), cap(b))
		}
		if p := uintptr(unsafe.Pointer(&b[0])); p%Align != 0 {
			t.Fatalf("buffer at %#x is not aligned", p)
		}
	}
}

type writer interface {
	Write([]byte) (int, error)
	Flush() error
	Direct() bool
}

// TestWriter writes files of sizes around the buffer and block sizes in
// uneven pieces and reads them back.
func TestWriter(t *testing.T) {
	t.Parallel()
	testWriter(t, func(f *os.File, bufSize int) writer { return NewWriter(f, AlignedBuf(bufSize)) })
}

// TestAsyncWriter is TestWriter with background writes, two and three
// buffers deep.
func TestAsyncWriter(t *testing.T) {
	t.Parallel()
	for _, depth := range []int{2, 3} {
		testWriter(t, func(f *os.File, bufSize int) writer {
			bufs := make([][]byte, depth)
			for i := range bufs {
				bufs[i] = AlignedBuf(bufSize)
			}
			return NewAsyncWriter(f, bufs...)
		})
	}
}

func testWriter(t *testing.T, newWriter func(*os.File, int) writer) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	const bufSize = 4 * Align
	for _, size := range []int{0, 1, Align - 1, Align, Align + 1, bufSize, bufSize + 3, 5*bufSize + Align, 7*bufSize - 1} {
		want := make([]byte, size)
		for i := range want {
			want[i] = byte(r.Uint32())
		}
		name := filepath.Join(dir, "f")
		f, err := os.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w := newWriter(f, bufSize)
		direct := w.Direct()
		for p := want; len(p) > 0; {
			n := min(len(p), 1+r.IntN(2*bufSize))
			if k, err := w.Write(p[:n]); err != nil || k != n {
				t.Fatalf("size %d: write %d: %d, %v", size, n, k, err)
			}
			p = p[n:]
		}
		if err := w.Flush(); err != nil {
			t.Fatalf("size %d: flush: %v", size, err)
		}
		if size%Align != 0 && w.Direct() {
			t.Errorf("size %d: still in direct mode after an unaligned tail", size)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("size %d (direct %v): file has %d bytes, differs from what was written", size, direct, len(got))
		}
		t.Logf("size %d: direct %v", size, direct)
	}
}

// TestWritersRefuseBadBuffers: unaligned buffers, and a single buffer
// for an AsyncWriter, are programming errors.
func TestWritersRefuseBadBuffers(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, build := range map[string]func(){
		"unaligned":       func() { NewWriter(f, AlignedBuf(2 * Align)[1:]) },
		"unaligned async": func() { NewAsyncWriter(f, AlignedBuf(Align), AlignedBuf(2 * Align)[1:]) },
		"one buffer":      func() { NewAsyncWriter(f, AlignedBuf(Align)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: accepted", name)
				}
			}()
			build()
		}()
	}
}

// TestAsyncWriterReportsFailedWrite: a background write that fails is
// reported by the calls that follow it, and Flush does not claim success.
func TestAsyncWriterReportsFailedWrite(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name) // read-only: every write fails
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := NewAsyncWriter(f, AlignedBuf(Align), AlignedBuf(Align))
	var werr error
	for i := 0; i < 4 && werr == nil; i++ {
		_, werr = w.Write(make([]byte, Align))
	}
	if err := w.Wait(); err == nil {
		t.Fatal("Wait: no error after writes to a read-only file")
	}
	if _, err := w.Write([]byte{1}); err == nil {
		t.Error("Write after a failed background write succeeded")
	}
	if err := w.Flush(); err == nil {
		t.Error("Flush after a failed background write succeeded")
	}
}
