package store

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/understudy/understudy/pkg/chunk"
)

func newTestStore(t testing.TB, key []byte) *Store {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	if err := Init(dir, InitOptions{Key: key}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testKey() []byte { return bytes.Repeat([]byte{7}, 32) }

func randomData(seed uint64, n int, compressible bool) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		if compressible {
			b[i] = byte('a' + r.IntN(4))
		} else {
			b[i] = byte(r.Uint32())
		}
	}
	return b
}

func TestPutGetRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		key  []byte
	}{{"plain", nil}, {"encrypted", testKey()}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t, tc.key)
			ctx := t.Context()
			w, err := s.Lock(ctx, LockOptions{PackSize: 64 << 10})
			if err != nil {
				t.Fatal(err)
			}
			var ids []chunk.ID
			var datas [][]byte
			for i := range 20 {
				d := randomData(uint64(i), 10000+i*1000, i%2 == 0)
				id := chunk.Sum(d)
				n, err := w.Put(ctx, id, d)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					t.Fatalf("chunk %d: no bytes stored", i)
				}
				if n2, _ := w.Put(ctx, id, d); n2 != 0 {
					t.Fatalf("duplicate put stored %d bytes", n2)
				}
				ids = append(ids, id)
				datas = append(datas, d)
			}
			if err := w.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			st := w.Stats()
			if st.Chunks != 20 || st.Packs < 2 {
				t.Errorf("stats = %+v, want 20 chunks in several packs", st)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				got, err := s.Get(ctx, id, nil)
				if err != nil {
					t.Fatalf("get %d: %v", i, err)
				}
				if !bytes.Equal(got, datas[i]) {
					t.Fatalf("get %d: content differs", i)
				}
			}
			if _, err := s.Get(ctx, chunk.Sum([]byte("nope")), nil); !errors.Is(err, ErrNotFound) {
				t.Errorf("get missing: err = %v, want ErrNotFound", err)
			}
			// Raw transfer into a second store with the same key.
			s2 := newTestStore(t, tc.key)
			w2, err := s2.Lock(ctx, LockOptions{})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := s.GetStored(ctx, ids[3])
			if err != nil {
				t.Fatal(err)
			}
			locs, ok, err := s.Locate(ctx, ids[3:4])
			if err != nil || !ok[0] {
				t.Fatalf("locate: %v %v", ok, err)
			}
			if at, err := s.GetStoredAt(locs[0], nil); err != nil || !bytes.Equal(at, raw) {
				t.Errorf("GetStoredAt differs from GetStored (err %v)", err)
			}
			if err := w2.PutStored(ctx, ids[4], raw); !errors.Is(err, ErrCorrupt) {
				t.Errorf("PutStored under the wrong id: err = %v, want ErrCorrupt", err)
			}
			if err := w2.PutStored(ctx, ids[3], raw); err != nil {
				t.Fatal(err)
			}
			if err := w2.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			w2.Close()
			if got, err := s2.Get(ctx, ids[3], nil); err != nil || !bytes.Equal(got, datas[3]) {
				t.Fatalf("transferred chunk: err %v", err)
			}
		})
	}
}

func TestKeyChecks(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "s")
	if err := Init(dir, InitOptions{Key: testKey()}); err != nil {
		t.Fatal(err)
	}
	if err := Init(dir, InitOptions{}); !errors.Is(err, ErrExists) {
		t.Errorf("second init: %v", err)
	}
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrKeyRequired) {
		t.Errorf("open without key: %v", err)
	}
	if _, err := Open(dir, Options{Key: bytes.Repeat([]byte{8}, 32)}); !errors.Is(err, ErrWrongKey) {
		t.Errorf("open with wrong key: %v", err)
	}
	if _, err := Open(t.TempDir(), Options{}); !errors.Is(err, ErrNotStore) {
		t.Errorf("open empty dir: %v", err)
	}
	kf := filepath.Join(t.TempDir(), "key")
	k, err := NewKeyFile(kf)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadKeyFile(kf)
	if err != nil || !bytes.Equal(k, k2) {
		t.Fatalf("key file round trip: %v", err)
	}
}

func TestLockExcludesWriters(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, nil)
	w, err := s.Lock(t.Context(), LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Open(s.Dir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.Lock(t.Context(), LockOptions{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: err = %v, want ErrLocked", err)
	}
	w.Close()
	w2, err := s2.Lock(t.Context(), LockOptions{})
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	w2.Close()
}

func TestRecoverLeftovers(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, nil)
	ctx := t.Context()
	tmp := filepath.Join(s.Dir(), tmpDir, "0123.pack.tmp")
	if err := os.WriteFile(tmp, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(s.Dir(), recordsDir, "snapshots", ".tmp-abc-123")
	os.MkdirAll(filepath.Dir(rec), 0o700)
	if err := os.WriteFile(rec, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := s.Lock(ctx, LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{tmp, rec} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", p, err)
		}
	}
	d := randomData(1, 5000, true)
	if _, err := w.Put(ctx, chunk.Sum(d), d); err != nil {
		t.Fatal(err)
	}
	w.Close() // without Flush: the chunk is discarded
	if ok, err := s.Has(ctx, chunk.Sum(d)); err != nil || ok {
		t.Fatalf("unflushed chunk visible: ok=%v err=%v", ok, err)
	}
}

// TestReadChunk reads compressible and incompressible chunks, plain and
// encrypted, through one ChunkBuf and checks every result against the
// data, also after later reads reused the buffers.
func TestReadChunk(t *testing.T) {
	t.Parallel()
	for _, key := range [][]byte{nil, testKey()} {
		s := newTestStore(t, key)
		ctx := t.Context()
		w, err := s.Lock(ctx, LockOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []chunk.ID
		var datas [][]byte
		for i := range 12 {
			d := randomData(uint64(i), 1000+i*20000, i%3 == 0)
			ids = append(ids, chunk.Sum(d))
			datas = append(datas, d)
			if _, err := w.Put(ctx, ids[i], d); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		w.Close()
		locs, ok, err := s.Locate(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		// Prefetching is advice: a pack that is gone is skipped.
		s.Prefetch(append(slices.Clone(locs), Location{Pack: newPackID(), Length: 10}))
		var b ChunkBuf
		for round := range 2 {
			for i, id := range ids {
				if !ok[i] {
					t.Fatalf("chunk %d not indexed", i)
				}
				got, err := s.ReadChunk(id, locs[i], &b)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, datas[i]) {
					t.Fatalf("round %d, chunk %d (encrypted %v): content differs", round, i, key != nil)
				}
			}
		}
		// A run read at once serves the chunks in it in order, each once:
		// a chunk asked for again after it was taken (decrypted in place)
		// is read from the pack again, as is one outside the run.
		if locs[3].Pack != locs[8].Pack || int64(locs[8].Offset) != int64(locs[7].Offset)+int64(locs[7].Length) {
			t.Fatalf("chunks 3-8 are not back to back in one pack: %v", locs[3:9])
		}
		s.ReadRun(&b, locs[3].Pack, int64(locs[3].Offset), int64(locs[8].Offset)+int64(locs[8].Length))
		if !b.Holds(locs[3]) || !b.Holds(locs[8]) || b.Holds(locs[2]) || b.Holds(locs[9]) {
			t.Fatal("the run does not hold exactly chunks 3 to 8")
		}
		for _, i := range []int{3, 4, 4, 6, 5, 11, 7, 8} {
			held := b.Holds(locs[i])
			got, err := s.ReadChunk(ids[i], locs[i], &b)
			if err != nil || !bytes.Equal(got, datas[i]) {
				t.Fatalf("chunk %d from a run (held %v, encrypted %v): err %v", i, held, key != nil, err)
			}
			if b.Holds(locs[i]) {
				t.Errorf("chunk %d still held after it was taken", i)
			}
		}
		// A run that cannot be read is dropped; reads go to the pack.
		s.ReadRun(&b, newPackID(), 0, 100)
		if b.Holds(locs[0]) || b.Holds(locs[3]) {
			t.Error("a failed run holds chunks")
		}
		if got, err := s.ReadChunk(ids[0], locs[0], &b); err != nil || !bytes.Equal(got, datas[0]) {
			t.Fatalf("chunk 0 after a failed run: %v", err)
		}
	}
}

// TestWorthCompressing checks the entropy estimate on random, text-like
// and constant data of many sizes, the odd ones included.
func TestWorthCompressing(t *testing.T) {
	c, err := newCodec(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for _, n := range []int{511, 512, 1000, 4096, 16383, 16384, 16391, 20001, 65537, 1 << 20, 8<<20 + 7} {
		if w, _ := c.worthCompressing(randomData(uint64(n), n, true)); n >= 512 && !w {
			t.Errorf("%d bytes of four letters: not worth compressing", n)
		}
		if w, _ := c.worthCompressing(make([]byte, n)); n >= 512 && !w {
			t.Errorf("%d zero bytes: not worth compressing", n)
		}
		if w, _ := c.worthCompressing(randomData(uint64(n), n, false)); n >= 2048 && w {
			t.Errorf("%d random bytes: worth compressing", n)
		}
	}
}
