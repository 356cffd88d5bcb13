package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/understudy/understudy/pkg/chunk"
)

// literalsFrame builds by hand a zstd frame of one compressed block that
// holds lits as raw literals and no sequences, with the literals size in
// the header format the RFC prescribes for its length.
func literalsFrame(lits []byte) []byte {
	f := binary.LittleEndian.AppendUint32(nil, 0xFD2FB528)
	// Frame header: 4-byte content size, not single segment, so a window
	// descriptor follows (1 MiB window).
	f = append(f, 2<<6, 10<<3)
	f = binary.LittleEndian.AppendUint32(f, uint32(len(lits)))
	var hdr []byte
	switch n := len(lits); {
	case n < 32:
		hdr = []byte{byte(n << 3)}
	case n < 4096:
		hdr = []byte{byte(1<<2 | n<<4), byte(n >> 4)}
	default:
		hdr = []byte{byte(3<<2 | n<<4), byte(n >> 4), byte(n >> 12)}
	}
	block := append(append(hdr, lits...), 0) // 0: no sequences
	bh := uint32(1) | 2<<1 | uint32(len(block))<<3
	f = append(f, byte(bh), byte(bh>>8), byte(bh>>16))
	return append(f, block...)
}

func TestRawLiterals(t *testing.T) {
	c, err := newCodec(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for _, n := range []int{0, 17, 31, 32, 1000, 4095, 4096, 70000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			lits := randomData(uint64(n), n, false)
			frame := literalsFrame(lits)
			// The frame is valid zstd: it decodes to the literals.
			got, err := c.dec.DecodeAll(frame, nil)
			if err != nil || !bytes.Equal(got, lits) {
				t.Fatalf("the hand-built frame decodes to %d bytes (%v), want the %d literals", len(got), err, n)
			}
			raw, ok := rawLiterals(frame)
			if !ok || !bytes.Equal(raw, lits) {
				t.Fatalf("rawLiterals = %d bytes, %v; want the %d literals", len(raw), ok, n)
			}
			// Any cut of the frame is refused, never read past.
			for cut := range len(frame) {
				if _, ok := rawLiterals(frame[:cut]); ok {
					t.Fatalf("a frame cut to %d of %d bytes was accepted", cut, len(frame))
				}
			}
		})
	}
	// Not a raw-literals block: Huffman-coded literals of text.
	if _, ok := rawLiterals(c.enc.EncodeAll(logText(12<<10), nil)); ok {
		t.Error("rawLiterals accepted a frame whose literals are Huffman coded")
	}
	if _, ok := rawLiterals([]byte("not a zstd frame")); ok {
		t.Error("rawLiterals accepted garbage")
	}
}

// logText returns n bytes of log lines.
func logText(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 3))
	var b []byte
	for len(b) < n {
		b = fmt.Appendf(b, "2026-11-22T07:%02d:%02d.%03dZ INFO login ok avatar=%s region=r%02d\n",
			r.IntN(60), r.IntN(60), r.IntN(1000), []string{"Test User", "Ann Other", "Bo Builder"}[r.IntN(3)], r.IntN(40))
	}
	return b[:n]
}

// pageLike returns database-like pages: a repeated header and record
// layout around payload bytes of high entropy, so matches compress the
// layout and the literals left over gain too little from Huffman coding
// to be worth it.
func pageLike(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	var b []byte
	for len(b) < n {
		b = append(b, "\x0d\x00\x00\x00\x08\x0f\xa0\x00\x0f\xd8\x0f\xb0\x0f\x88"...)
		b = append(b, make([]byte, 18)...)
		for range 8 {
			payload := make([]byte, 24)
			for i := range payload {
				// Skewed towards a few values, like numbers and flags:
				// about 7.3 bits per byte.
				if r.IntN(10) < 3 {
					payload[i] = byte(r.IntN(16))
				} else {
					payload[i] = byte(r.Uint32())
				}
			}
			b = append(b, payload...)
		}
	}
	return b[:n]
}

// benchData returns 8 MiB of database-like pages in 12 KiB chunks and of
// log text in 1 MiB chunks (and in 12 KiB chunks with smallLogs), for the
// compression benchmarks.
func benchData(smallLogs bool) []struct {
	name   string
	chunks [][]byte
} {
	split := func(d []byte, size int) [][]byte {
		var out [][]byte
		for len(d) > 0 {
			n := min(size, len(d))
			out, d = append(out, d[:n]), d[n:]
		}
		return out
	}
	type set = struct {
		name   string
		chunks [][]byte
	}
	sets := []set{{"pages-12KiB", split(pageLike(1, 8<<20), 12<<10)}}
	if smallLogs {
		sets = append(sets, set{"log-12KiB", split(logText(8<<20), 12<<10)})
	}
	return append(sets, set{"log-1MiB", split(logText(8<<20), 1<<20)})
}

// benchEncode encodes the 8 MiB of chunks with fn for each iteration and
// reports the ratio of plaintext to encoded bytes.
func benchEncode(b *testing.B, chunks [][]byte, fn func(data, dst []byte) []byte) {
	b.SetBytes(8 << 20)
	var buf []byte
	out := 0
	for b.Loop() {
		out = 0
		for _, ch := range chunks {
			buf = fn(ch, buf[:0])
			out += len(buf)
		}
	}
	b.ReportMetric(float64(8<<20)/float64(out), "ratio")
}

// sealCompress compresses data as seal does.
func sealCompress(c *codec, data, dst []byte) ([]byte, bool) {
	_, alphabet := c.worthCompressing(data)
	return c.compress(data, dst, alphabet >= binaryAlphabet)
}

func TestCompressSkipsUselessLiteralCoding(t *testing.T) {
	c, err := newCodec(testKey())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for _, tc := range []struct {
		name  string
		data  []byte
		lzOut bool // compressed with literals raw
	}{
		{"pages 12 KiB", pageLike(1, 12<<10), true},
		{"pages 64 KiB", pageLike(2, 64<<10), true},
		{"log text 12 KiB", logText(12 << 10), false},
		{"log text 1 MiB", logText(1 << 20), false},
		{"pages 1 MiB, more than one block", pageLike(3, 1<<20), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, rawLits := sealCompress(c, tc.data, nil)
			full := c.enc.EncodeAll(tc.data, nil)
			if rawLits != tc.lzOut {
				t.Fatalf("literals left raw: %v, want %v", rawLits, tc.lzOut)
			}
			if !tc.lzOut && !bytes.Equal(got, full) {
				t.Errorf("compressed to %d bytes, want the full encoder's %d", len(got), len(full))
			}
			if float64(len(got)) > 1.01*float64(len(full)) {
				t.Errorf("compressed to %d bytes against %d in full: more than 1%% larger", len(got), len(full))
			}
			// And the blob opens to the plaintext.
			id := chunk.Sum(tc.data)
			plain, err := c.open(nil, id, c.seal(nil, id, tc.data))
			if err != nil || !bytes.Equal(plain, tc.data) {
				t.Fatalf("round trip: %v", err)
			}
		})
	}
}

// BenchmarkCompress compares seal's compression (sample, then compress)
// with sampling and the full encoder alone, on database-like pages in
// 12 KiB chunks (the database chunk size) and on log text in 12 KiB and
// 1 MiB chunks, and reports the compression ratio.
func BenchmarkCompress(b *testing.B) {
	c, err := newCodec(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.close()
	for _, data := range benchData(true) {
		for _, enc := range []struct {
			name string
			fn   func(data, dst []byte) []byte
		}{{"full", func(data, dst []byte) []byte {
			c.worthCompressing(data) // seal samples every chunk either way
			return c.enc.EncodeAll(data, dst)
		}}, {"compress", func(data, dst []byte) []byte { out, _ := sealCompress(c, data, dst); return out }}} {
			b.Run(data.name+"/"+enc.name, func(b *testing.B) { benchEncode(b, data.chunks, enc.fn) })
		}
	}
}
