package store

import (
	"bytes"
	"sync"
	"testing"

	"github.com/understudy/understudy/pkg/chunk"
)

// Readers (another Store on the same directory, as another process would
// have) read while a writer holds the lock and commits packs.
func TestReadersDoNotWaitForWriter(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, nil)
	ctx := t.Context()
	w, err := s.Lock(ctx, LockOptions{PackSize: 32 << 10})
	if err != nil {
		t.Fatal(err)
	}
	first := randomData(1, 20000, true)
	if _, err := w.Put(ctx, chunk.Sum(first), first); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	reader, err := Open(s.Dir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 60 {
			d := randomData(uint64(10+i), 20000, false)
			if _, err := w.Put(ctx, chunk.Sum(d), d); err != nil {
				t.Error(err)
				return
			}
		}
		if err := w.Flush(ctx); err != nil {
			t.Error(err)
		}
	}()
	for range 200 {
		got, err := reader.Get(ctx, chunk.Sum(first), nil)
		if err != nil || !bytes.Equal(got, first) {
			t.Fatalf("read during a backup: %v", err)
		}
	}
	wg.Wait()
	w.Close()
	for i := range 60 {
		d := randomData(uint64(10+i), 20000, false)
		if ok, err := reader.Has(ctx, chunk.Sum(d)); err != nil || !ok {
			t.Fatalf("chunk %d not visible after the writer flushed: %v", i, err)
		}
	}
}
