package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/understudy/understudy/pkg/chunk"
)

// BenchmarkDecode decodes a manifest shaped like a database dataset: a few
// files of thousands of chunks each, and many small files.
func BenchmarkDecode(b *testing.B) {
	var buf bytes.Buffer
	e, err := NewEncoder(&buf)
	if err != nil {
		b.Fatal(err)
	}
	refs := 0
	for f := range 1000 {
		n := &Node{Path: fmt.Sprintf("f%04d", f), Type: TypeFile, Mode: 0o644, MTime: 1e18, Size: 1 << 20, Inode: uint64(f), CTime: 1e18}
		k := 1
		if f < 10 {
			k = 2700
		}
		for i := range k {
			n.Chunks = append(n.Chunks, ChunkRef{ID: chunk.Sum(fmt.Appendf(nil, "%d/%d", f, i)), Offset: int64(i) << 14, Length: 1 << 14})
		}
		refs += k
		if err := e.Encode(n); err != nil {
			b.Fatal(err)
		}
	}
	e.Flush()
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportMetric(float64(refs), "chunks")
	for b.Loop() {
		d, err := NewDecoder(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := d.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
