package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/directio"
)

// TestPackWriterLayout writes packs whose blobs straddle the write buffer
// and whose tails are not block-aligned, and reads every blob back at the
// offset the trailer names, whichever write mode the filesystem allowed.
func TestPackWriterLayout(t *testing.T) {
	t.Parallel()
	c, err := newCodec(testKey())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for _, sizes := range [][]int{
		{1},
		{directio.Align - len(packMagic)},
		{100, packBufSize, 3, packBufSize - 7, 2 * packBufSize, 5000},
		{packBufSize + directio.Align, 1},
	} {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, tmpDir), 0o700); err != nil {
			t.Fatal(err)
		}
		pw, err := newPackWriter(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("sizes %v: direct I/O %v", sizes, pw.w.Direct())
		var blobs [][]byte
		for i, n := range sizes {
			b := randomData(uint64(i), n, false)
			if err := pw.add(chunk.Sum(b), b, n); err != nil {
				t.Fatal(err)
			}
			blobs = append(blobs, b)
		}
		info, err := pw.finish(c, dir)
		if err != nil {
			t.Fatal(err)
		}
		path := packPath(dir, pw.id)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != info.Size {
			t.Fatalf("sizes %v: pack file has %d bytes, writer counted %d", sizes, fi.Size(), info.Size)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		entries, err := c.readTrailer(f, pw.id, fi.Size())
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != len(blobs) {
			t.Fatalf("trailer lists %d blobs, want %d", len(entries), len(blobs))
		}
		for i, e := range entries {
			got := make([]byte, e.loc.Length)
			if _, err := f.ReadAt(got, int64(e.loc.Offset)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, blobs[i]) {
				t.Fatalf("sizes %v: blob %d differs at offset %d", sizes, i, e.loc.Offset)
			}
		}
		f.Close()
	}
}
