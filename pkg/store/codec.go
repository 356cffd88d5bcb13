package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"math"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/understudy/understudy/pkg/chunk"
)

// Stored blobs start with one flag byte. The rest is the payload: the
// plaintext, possibly compressed with zstd (flagCompressed) or S2
// (flagS2), or, with flagEncrypted, a 12-byte nonce followed by the
// AES-256-GCM sealed (possibly compressed) plaintext whose
// additional data is the flag byte and the chunk ID. The ID in the additional
// data binds a ciphertext to its name, so a blob cannot be swapped for
// another one without detection.
const (
	flagCompressed = 1 << 0
	flagEncrypted  = 1 << 1
	flagS2         = 1 << 2
	flagKnown      = flagCompressed | flagEncrypted | flagS2
	// flagCodecs are the compression flags; a blob carries one at most.
	flagCodecs = flagCompressed | flagS2

	nonceSize = 12
	// MaxChunkSize bounds a chunk's plaintext; larger blobs are refused.
	MaxChunkSize = 16 << 20
)

// codec turns plaintext chunks into stored blobs and back. It is safe for
// concurrent use.
type codec struct {
	comp  Compression   // how seal compresses; Open sets the store's
	aead  cipher.AEAD   // nil when the store is not encrypted
	enc   *zstd.Encoder // literals Huffman coded
	encLZ *zstd.Encoder // literals left raw (see compress)
	dec   *zstd.Decoder
}

func newCodec(dataKey []byte) (*codec, error) {
	c := &codec{comp: legacyCompression}
	if dataKey != nil {
		block, err := aes.NewCipher(dataKey)
		if err != nil {
			return nil, fmt.Errorf("store: cipher: %w", err)
		}
		if c.aead, err = cipher.NewGCM(block); err != nil {
			return nil, fmt.Errorf("store: gcm: %w", err)
		}
	}
	// The fastest level: on grid data (logs, database pages, JSON assets)
	// it stores 0.2% more than the default level for 40% less compression
	// time, and compression is the largest CPU cost of a backup. The two
	// encoders are shared and reused; EncodeAll draws on each one's two
	// states.
	var err error
	for _, e := range []struct {
		enc     **zstd.Encoder
		entropy bool
	}{{&c.enc, true}, {&c.encLZ, false}} {
		*e.enc, err = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(2),
			zstd.WithEncoderCRC(false),
			zstd.WithLowerEncoderMem(true),
			zstd.WithNoEntropyCompression(!e.entropy),
			zstd.WithWindowSize(1<<20))
		if err != nil {
			return nil, fmt.Errorf("store: zstd encoder: %w", err)
		}
	}
	c.dec, err = zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(2),
		zstd.WithDecoderMaxMemory(MaxChunkSize),
		zstd.WithDecoderMaxWindow(8<<20),
		zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, fmt.Errorf("store: zstd decoder: %w", err)
	}
	return c, nil
}

func (c *codec) close() {
	c.enc.Close()
	c.encLZ.Close()
	c.dec.Close()
}

// deriveKeys turns the master key from a key file into the data key and the
// key check stored in the configuration. Stores given the same key file
// derive the same data key, so blobs can move between them as they are.
func deriveKeys(master []byte) (dataKey []byte, check string, err error) {
	dataKey, err = hkdf.Key(sha256.New, master, nil, "understudy store data v1", 32)
	if err != nil {
		return nil, "", err
	}
	ck, err := hkdf.Key(sha256.New, master, nil, "understudy store key check v1", 16)
	if err != nil {
		return nil, "", err
	}
	return dataKey, fmt.Sprintf("%x", ck), nil
}

// worthCompressing estimates the byte entropy of data from 8 windows of
// 2 KiB spread over it, and says whether compressing is likely to pay:
// already-compressed or encrypted data (archives, media) is close to 8 bits
// per byte and is stored as it is without spending CPU on it. 16 KiB of
// samples tell random data (7.99 bits) from anything zstd can shrink. It
// also returns how many distinct byte values the samples hold: text uses
// far fewer than binary data (see compress).
func (c *codec) worthCompressing(data []byte) (worth bool, alphabet int) {
	if len(data) < 512 {
		return false, 0
	}
	// Four histograms, so that runs of equal bytes do not serialise on
	// one counter.
	var hist [4][256]uint32
	n := 0
	const windows, window = sampleWindows, sampleWindow
	step := max(len(data)/windows, window)
	for off := 0; off < len(data); off += step {
		w := data[off:min(off+window, len(data))]
		n += len(w)
		for len(w) >= 4 {
			hist[0][w[0]]++
			hist[1][w[1]]++
			hist[2][w[2]]++
			hist[3][w[3]]++
			w = w[4:]
		}
		for _, b := range w {
			hist[0][b]++
		}
	}
	// H = log2(n) - (1/n) Σ k·log2(k), with k·log2(k) from a table.
	tab := kLog2k()
	sum := 0.0
	for i := range 256 {
		k := hist[0][i] + hist[1][i] + hist[2][i] + hist[3][i]
		sum += tab[k]
		if k > 0 {
			alphabet++
		}
	}
	h := math.Log2(float64(n)) - sum/float64(n)
	return h < maxEntropy, alphabet
}

// The entropy check samples sampleWindows windows of sampleWindow bytes
// (plus the few bytes left after the last whole step).
const sampleWindows, sampleWindow = 8, 2 << 10

// kLog2k returns k·log2(k) for every count a sample can hold.
var kLog2k = sync.OnceValue(func() []float64 {
	const maxSample = (sampleWindows + 1) * sampleWindow
	t := make([]float64, maxSample+1)
	for k := 2; k <= maxSample; k++ {
		t[k] = float64(k) * math.Log2(float64(k))
	}
	return t
})

// maxEntropy is the byte entropy (bits per byte) above which chunks are not
// compressed.
const maxEntropy = 7.5

// sealScratch recycles the buffers that compressed chunks pass through on
// their way to being sealed.
var sealScratch sync.Pool

func getScratch() *[]byte {
	if bp, ok := sealScratch.Get().(*[]byte); ok {
		return bp
	}
	return new([]byte)
}

func putScratch(bp *[]byte) { sealScratch.Put(bp) }

// seal encodes plaintext data named id into a stored blob appended to dst.
func (c *codec) seal(dst []byte, id chunk.ID, data []byte) []byte {
	flags := byte(0)
	payload := data
	var comp []byte
	if c.comp != CompressionOff {
		if worth, alphabet := c.worthCompressing(data); worth {
			bp := getScratch()
			defer putScratch(bp)
			binary := alphabet >= binaryAlphabet
			flag := byte(flagCompressed)
			if c.comp == CompressionS2 || c.comp == CompressionAuto && binary {
				comp, flag = s2.Encode((*bp)[:cap(*bp)], data), flagS2
			} else {
				comp, _ = c.compress(data, (*bp)[:0], binary)
			}
			*bp = comp[:0]
			if len(comp) < len(data) {
				flags |= flag
				payload = comp
			}
		}
	}
	if c.aead == nil {
		dst = append(dst, flags)
		return append(dst, payload...)
	}
	flags |= flagEncrypted
	dst = append(dst, flags)
	start := len(dst)
	dst = append(dst, make([]byte, nonceSize)...)
	nonce := dst[start : start+nonceSize]
	if _, err := rand.Read(nonce); err != nil {
		panic("store: no randomness for nonce: " + err.Error())
	}
	return c.aead.Seal(dst, nonce, payload, aad(flags, id[:]))
}

func aad(flags byte, id []byte) []byte {
	a := make([]byte, 0, 1+len(id))
	a = append(a, flags)
	return append(a, id...)
}

// open decodes a stored blob named id, checks that its plaintext hashes to
// id and returns the plaintext (appended to dst[:0] when it fits).
func (c *codec) open(dst []byte, id chunk.ID, stored []byte) ([]byte, error) {
	return c.openBuf(dst, id, stored, false, false)
}

// openBuf is open; with inPlace it may decrypt inside stored, which the
// caller then no longer needs, and with alias it returns an uncompressed
// plaintext where it lies inside stored rather than copying it to dst.
func (c *codec) openBuf(dst []byte, id chunk.ID, stored []byte, inPlace, alias bool) ([]byte, error) {
	plain, err := c.unseal(dst, id[:], stored, inPlace, alias)
	if err != nil {
		return nil, err
	}
	if chunk.Sum(plain) != id {
		return nil, fmt.Errorf("%w: chunk %s: content does not match its id", ErrCorrupt, id.Short())
	}
	return plain, nil
}

func (c *codec) unseal(dst []byte, name []byte, stored []byte, inPlace, alias bool) ([]byte, error) {
	if len(stored) < 1 {
		return nil, fmt.Errorf("%w: empty blob", ErrCorrupt)
	}
	flags := stored[0]
	if flags&^flagKnown != 0 || flags&flagCodecs == flagCodecs {
		return nil, fmt.Errorf("%w: unknown blob flags %#x", ErrCorrupt, flags)
	}
	payload := stored[1:]
	if flags&flagEncrypted != 0 {
		if c.aead == nil {
			return nil, fmt.Errorf("%w: blob is encrypted but no key was given", ErrKeyRequired)
		}
		if len(payload) < nonceSize+c.aead.Overhead() {
			return nil, fmt.Errorf("%w: encrypted blob too short", ErrCorrupt)
		}
		var out []byte
		if inPlace {
			out = payload[nonceSize:nonceSize]
		}
		var err error
		payload, err = c.aead.Open(out, payload[:nonceSize], payload[nonceSize:], aad(flags, name))
		if err != nil {
			return nil, fmt.Errorf("%w: authentication failed", ErrCorrupt)
		}
	} else if c.aead != nil {
		return nil, fmt.Errorf("%w: unencrypted blob in an encrypted store", ErrCorrupt)
	}
	if flags&flagS2 != 0 {
		n, err := s2.DecodedLen(payload)
		if err != nil {
			return nil, fmt.Errorf("%w: decompress: %v", ErrCorrupt, err)
		}
		if n > MaxChunkSize {
			return nil, fmt.Errorf("%w: decompressed size %d exceeds %d", ErrCorrupt, n, MaxChunkSize)
		}
		out, err := s2.Decode(dst[:cap(dst)], payload)
		if err != nil {
			return nil, fmt.Errorf("%w: decompress: %v", ErrCorrupt, err)
		}
		return out, nil
	}
	if flags&flagCompressed != 0 {
		out, err := c.dec.DecodeAll(payload, dst[:0])
		if err != nil {
			return nil, fmt.Errorf("%w: decompress: %v", ErrCorrupt, err)
		}
		return out, nil
	}
	if alias {
		return payload, nil
	}
	return append(dst[:0], payload...), nil
}

// sealRecord encodes a small named value (a snapshot record, the sealed
// polynomial). Records are never compressed; with a key they are encrypted
// with their name as additional data.
func (c *codec) sealRecord(name string, data []byte) []byte {
	if c.aead == nil {
		return append([]byte{0}, data...)
	}
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(data)+c.aead.Overhead())
	out[0] = flagEncrypted
	if _, err := rand.Read(out[1 : 1+nonceSize]); err != nil {
		panic("store: no randomness for nonce: " + err.Error())
	}
	return c.aead.Seal(out, out[1:1+nonceSize], data, aad(flagEncrypted, []byte(name)))
}

func (c *codec) openRecord(name string, stored []byte) ([]byte, error) {
	if len(stored) > 0 && stored[0]&flagCodecs != 0 {
		return nil, fmt.Errorf("%w: record %s has unexpected flags", ErrCorrupt, name)
	}
	return c.unseal(nil, []byte(name), stored, false, false)
}
