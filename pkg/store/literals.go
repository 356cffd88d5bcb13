package store

import (
	"encoding/binary"
	"math"
)

// Chunks of binary data that fit one zstd block and are compressed with
// zstd (the zstd setting; auto gives them to S2, see [Compression]) are
// compressed in two steps. zstd first replaces repeats with matches; the bytes left over, the
// literals, are then Huffman coded. On database pages and other binary
// data whose unmatched bytes are of high entropy, the Huffman step ends up
// not used (it must save a sixteenth to be kept) after taking half of the
// compression time, most of it building a table per block. So such a
// chunk is first compressed with literals left raw; if the literals that
// remain have an order-0 entropy below literalEntropy bits per byte,
// Huffman coding would save at least an eighth of them and the chunk is
// compressed again in full. Text (fewer than binaryAlphabet distinct byte
// values in the sample) goes straight to the full encoder: its literals
// nearly always compress. Either way the blob is a standard zstd frame.
const (
	// zstdBlockSize is the largest block a zstd frame holds; a chunk up to
	// this size is compressed into one block.
	zstdBlockSize = 128 << 10
	// literalEntropy is the entropy (bits per byte) of the raw literals at
	// or above which they stay raw.
	literalEntropy = 7.0
	// binaryAlphabet is the number of distinct byte values in a chunk's
	// sample from which it is taken for binary data.
	binaryAlphabet = 192
	// minLiterals is the number of literals below which they stay raw
	// whatever their entropy: a Huffman table would cost about as much as
	// it saves.
	minLiterals = 256
)

// compress compresses data, appending to dst, and reports whether the
// literals were left raw. binary says that data looks like binary data
// (see worthCompressing).
func (c *codec) compress(data, dst []byte, binary bool) (out []byte, rawLits bool) {
	if binary && len(data) <= zstdBlockSize {
		lz := c.encLZ.EncodeAll(data, dst)
		if lits, ok := rawLiterals(lz); ok && (len(lits) < minLiterals || entropy(lits) >= literalEntropy) {
			return lz, true
		}
		dst = lz[:0]
	}
	return c.enc.EncodeAll(data, dst), false
}

// rawLiterals returns the literals of a zstd frame made of one compressed
// block whose literals section is raw, and false for any other frame.
func rawLiterals(frame []byte) ([]byte, bool) {
	const magic = 0xFD2FB528
	if len(frame) < 5 || binary.LittleEndian.Uint32(frame) != magic {
		return nil, false
	}
	fhd := frame[4]
	p := 5
	singleSegment := fhd>>5&1 == 1
	if !singleSegment {
		p++ // window descriptor
	}
	p += [4]int{0, 1, 2, 4}[fhd&3] // dictionary id
	switch fhd >> 6 {              // frame content size
	case 0:
		if singleSegment {
			p++
		}
	case 1:
		p += 2
	case 2:
		p += 4
	case 3:
		p += 8
	}
	if len(frame) < p+3 {
		return nil, false
	}
	bh := uint32(frame[p]) | uint32(frame[p+1])<<8 | uint32(frame[p+2])<<16
	last, blockType, blockSize := bh&1 == 1, bh>>1&3, int(bh>>3)
	p += 3
	const compressedBlock = 2
	if !last || blockType != compressedBlock || len(frame) < p+blockSize || blockSize < 1 {
		return nil, false
	}
	block := frame[p : p+blockSize]
	const rawLiteralsBlock = 0
	if block[0]&3 != rawLiteralsBlock {
		return nil, false
	}
	var n, h int
	switch block[0] >> 2 & 3 {
	case 0, 2:
		n, h = int(block[0]>>3), 1
	case 1:
		if len(block) < 2 {
			return nil, false
		}
		n, h = int(block[0]>>4)|int(block[1])<<4, 2
	case 3:
		if len(block) < 3 {
			return nil, false
		}
		n, h = int(block[0]>>4)|int(block[1])<<4|int(block[2])<<12, 3
	}
	if len(block) < h+n {
		return nil, false
	}
	return block[h : h+n], true
}

// entropy returns the order-0 entropy of b in bits per byte.
func entropy(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	var hist [256]int
	for _, x := range b {
		hist[x]++
	}
	n := float64(len(b))
	sum := 0.0
	for _, k := range hist {
		if k > 1 {
			sum += float64(k) * math.Log2(float64(k))
		}
	}
	return math.Log2(n) - sum/n
}
