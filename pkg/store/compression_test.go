package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/understudy/understudy/pkg/chunk"
)

// TestCompressionSettings seals text, binary and random chunks under every
// setting, in plain and encrypted stores, checks which codec each blob
// names and reads every chunk back.
func TestCompressionSettings(t *testing.T) {
	t.Parallel()
	text := randomData(1, 100_000, true)
	page := pageLike(2, 100_000)
	random := randomData(3, 100_000, false)
	c, err := newCodec(nil)
	if err != nil {
		t.Fatal(err)
	}
	if worth, alphabet := c.worthCompressing(page); !worth || alphabet < binaryAlphabet {
		t.Fatalf("test pages: worth %v, alphabet %d: not taken for compressible binary data", worth, alphabet)
	}
	if worth, alphabet := c.worthCompressing(text); !worth || alphabet >= binaryAlphabet {
		t.Fatalf("test text: worth %v, alphabet %d: not taken for text", worth, alphabet)
	}
	c.close()
	const none = 0
	for _, tc := range []struct {
		comp       Compression
		text, page byte // the codec flag each gets
	}{
		{CompressionAuto, flagCompressed, flagS2},
		{CompressionZstd, flagCompressed, flagCompressed},
		{CompressionS2, flagS2, flagS2},
		{CompressionOff, none, none},
	} {
		for _, key := range [][]byte{nil, testKey()} {
			dir := filepath.Join(t.TempDir(), "store")
			if err := Init(dir, InitOptions{Key: key, Compression: tc.comp}); err != nil {
				t.Fatal(err)
			}
			cfg, err := readConfig(dir)
			if err != nil || cfg.Compression != string(tc.comp) {
				t.Fatalf("%s: config compression %q (err %v)", tc.comp, cfg.Compression, err)
			}
			s, err := Open(dir, Options{Key: key})
			if err != nil {
				t.Fatal(err)
			}
			if s.codec.comp != tc.comp {
				t.Errorf("%s: store says %s", tc.comp, s.codec.comp)
			}
			ctx := t.Context()
			w, err := s.Lock(ctx, LockOptions{})
			if err != nil {
				t.Fatal(err)
			}
			datas := [][]byte{text, page, random}
			for _, d := range datas {
				if _, err := w.Put(ctx, chunk.Sum(d), d); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			for i, want := range []byte{tc.text, tc.page, none} {
				id := chunk.Sum(datas[i])
				stored, err := s.GetStored(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if got := stored[0] & flagCodecs; got != want {
					t.Errorf("%s (key %v): chunk %d has codec flags %#x, want %#x", tc.comp, key != nil, i, got, want)
				}
				if want != none && len(stored) >= len(datas[i]) {
					t.Errorf("%s: chunk %d stored in %d bytes, not compressed", tc.comp, i, len(stored))
				}
				got, err := s.Get(ctx, id, nil)
				if err != nil || !bytes.Equal(got, datas[i]) {
					t.Fatalf("%s: chunk %d does not read back (err %v)", tc.comp, i, err)
				}
			}
			s.Close()
		}
	}
}

// TestCompressionConfig: a store without a setting keeps compressing with
// zstd, Options override the store's setting, and unknown settings are
// refused wherever they come from.
func TestCompressionConfig(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "store")
	if err := Init(dir, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	// setting opens the store with opts and returns the setting it seals
	// chunks with.
	setting := func(opts Options) Compression {
		t.Helper()
		s, err := Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		return s.codec.comp
	}
	if got := setting(Options{}); got != DefaultCompression {
		t.Fatalf("new store: compression %s, want %s", got, DefaultCompression)
	}
	rewrite := func(comp string) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, configFile))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if comp == "" {
			delete(m, "compression")
		} else {
			m["compression"] = comp
		}
		b, _ = json.Marshal(m)
		if err := os.WriteFile(filepath.Join(dir, configFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rewrite("")
	if got := setting(Options{}); got != CompressionZstd {
		t.Fatalf("store from before the setting: compression %s, want zstd", got)
	}
	if got := setting(Options{Compression: CompressionS2}); got != CompressionS2 {
		t.Fatalf("override: compression %s, want s2", got)
	}
	if _, err := Open(dir, Options{Compression: "lz4"}); !errors.Is(err, ErrBadCompression) {
		t.Errorf("Open with compression lz4: err = %v, want ErrBadCompression", err)
	}
	rewrite("brotli")
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrBadCompression) || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("config with compression brotli: err = %v, want ErrBadCompression naming config.json", err)
	}
	if err := Init(filepath.Join(t.TempDir(), "s"), InitOptions{Compression: "fast"}); !errors.Is(err, ErrBadCompression) {
		t.Errorf("Init with compression fast: err = %v, want ErrBadCompression", err)
	}
}

// TestS2BlobDamage: damaged S2 blobs are refused as corrupt, decompression
// bombs included, and a blob claiming two codecs is refused.
func TestS2BlobDamage(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "store")
	if err := Init(dir, InitOptions{Compression: CompressionS2}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	page := pageLike(4, 64<<10)
	id := chunk.Sum(page)
	good := s.codec.seal(nil, id, page)
	if good[0] != flagS2 {
		t.Fatalf("flags %#x, want S2", good[0])
	}
	if got, err := s.codec.open(nil, id, good); err != nil || !bytes.Equal(got, page) {
		t.Fatalf("intact blob: err %v", err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	bomb := append([]byte{flagS2}, binary.AppendUvarint(nil, 1<<40)...)
	bomb = append(bomb, good[1+len(binary.AppendUvarint(nil, uint64(len(page)))):]...)
	both := bytes.Clone(good)
	both[0] |= flagCompressed
	for name, blob := range map[string][]byte{
		"flipped bit":    flipped,
		"truncated":      good[:len(good)-100],
		"length only":    good[:3],
		"bomb":           bomb,
		"two codecs":     both,
		"garbage header": {flagS2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	} {
		if _, err := s.codec.open(nil, id, blob); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

// BenchmarkSealCompression seals chunks of database-like pages and of log
// text under each compression setting (no encryption), reporting the
// throughput and the ratio of plaintext to stored bytes.
func BenchmarkSealCompression(b *testing.B) {
	for _, data := range benchData(false) {
		for _, comp := range []Compression{CompressionAuto, CompressionZstd, CompressionS2} {
			b.Run(data.name+"/"+string(comp), func(b *testing.B) {
				c, err := newCodec(nil)
				if err != nil {
					b.Fatal(err)
				}
				defer c.close()
				c.comp = comp
				benchEncode(b, data.chunks, func(data, dst []byte) []byte { return c.seal(dst, chunk.ID{}, data) })
			})
		}
	}
}

// TestBlobsMoveBetweenSettings: a blob sealed under one setting is taken
// as it is by a store with another (a mirror or an archive with its own
// setting) and reads back there.
func TestBlobsMoveBetweenSettings(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	open := func(comp Compression) *Store {
		dir := filepath.Join(t.TempDir(), "store")
		if err := Init(dir, InitOptions{Key: testKey(), Compression: comp}); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, Options{Key: testKey()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	datas := [][]byte{randomData(5, 50_000, true), pageLike(6, 50_000)}
	for _, pair := range [][2]Compression{{CompressionS2, CompressionZstd}, {CompressionZstd, CompressionS2}, {CompressionAuto, CompressionOff}} {
		from, to := open(pair[0]), open(pair[1])
		wf, err := from.Lock(ctx, LockOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wt, err := to.Lock(ctx, LockOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range datas {
			if _, err := wf.Put(ctx, chunk.Sum(d), d); err != nil {
				t.Fatal(err)
			}
		}
		if err := wf.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		for _, d := range datas {
			blob, err := from.GetStored(ctx, chunk.Sum(d))
			if err != nil {
				t.Fatal(err)
			}
			if err := wt.PutStored(ctx, chunk.Sum(d), blob); err != nil {
				t.Fatalf("%s blob into a %s store: %v", pair[0], pair[1], err)
			}
		}
		if err := wt.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		wf.Close()
		wt.Close()
		for _, d := range datas {
			if got, err := to.Get(ctx, chunk.Sum(d), nil); err != nil || !bytes.Equal(got, d) {
				t.Errorf("%s blob in a %s store does not read back (err %v)", pair[0], pair[1], err)
			}
		}
	}
}
