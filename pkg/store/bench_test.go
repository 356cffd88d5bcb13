package store

import (
	"testing"

	"github.com/understudy/understudy/pkg/chunk"
)

func benchChunks(n int, compressible bool) ([][]byte, []chunk.ID) {
	var datas [][]byte
	var ids []chunk.ID
	for i := range n {
		d := randomData(uint64(1000+i), 1<<20, compressible && i%2 == 0)
		datas = append(datas, d)
		ids = append(ids, chunk.Sum(d))
	}
	return datas, ids
}

func BenchmarkPut(b *testing.B) {
	datas, ids := benchChunks(32, true)
	for _, tc := range []struct {
		name string
		key  []byte
	}{{"plain", nil}, {"encrypted", testKey()}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(datas)) << 20)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				s := newTestStore(b, tc.key)
				w, err := s.Lock(b.Context(), LockOptions{})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				for i, d := range datas {
					if _, err := w.Put(b.Context(), ids[i], d); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Flush(b.Context()); err != nil {
					b.Fatal(err)
				}
				w.Close()
			}
		})
	}
}

func BenchmarkGet(b *testing.B) {
	datas, ids := benchChunks(32, true)
	s := newTestStore(b, testKey())
	w, err := s.Lock(b.Context(), LockOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for i, d := range datas {
		w.Put(b.Context(), ids[i], d)
	}
	w.Flush(b.Context())
	w.Close()
	locs, _, err := s.Locate(b.Context(), ids)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1<<20)
	b.SetBytes(int64(len(datas)) << 20)
	b.ReportAllocs()
	for b.Loop() {
		for i, id := range ids {
			if _, err := s.ReadAt(id, locs[i], buf); err != nil {
				b.Fatal(err)
			}
		}
	}
}
