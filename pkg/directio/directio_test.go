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

// TestWriter writes files of sizes around the buffer and block sizes in
// uneven pieces and reads them back.
func TestWriter(t *testing.T) {
	t.Parallel()
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
		w := NewWriter(f, AlignedBuf(bufSize))
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

func TestNewWriterRefusesUnalignedBuffer(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	defer func() {
		if recover() == nil {
			t.Error("an unaligned buffer was accepted")
		}
	}()
	NewWriter(f, AlignedBuf(2 * Align)[1:])
}
