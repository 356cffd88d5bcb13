package archivetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/understudy/understudy/agent/internal/archive"
)

// Run runs the conformance suite; newBackend returns an empty backend for
// each subtest.
func Run(t *testing.T, newBackend func(t *testing.T) archive.Backend) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, b archive.Backend)
	}{
		{"RoundTrip", testRoundTrip},
		{"Replace", testReplace},
		{"Missing", testMissing},
		{"List", testList},
		{"Delete", testDelete},
		{"BadNames", testBadNames},
		{"Cancelled", testCancelled},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newBackend(t)) })
	}
}

func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func put(t *testing.T, b archive.Backend, name string, data []byte) {
	t.Helper()
	if err := b.Put(t.Context(), name, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%s): %v", name, err)
	}
}

func get(t *testing.T, b archive.Backend, name string) []byte {
	t.Helper()
	rc, err := b.Get(t.Context(), name)
	if err != nil {
		t.Fatalf("Get(%s): %v", name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return data
}

func names(t *testing.T, b archive.Backend, prefix string) []string {
	t.Helper()
	var out []string
	if err := b.List(t.Context(), prefix, func(oi archive.ObjectInfo) error {
		out = append(out, oi.Name)
		return nil
	}); err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	slices.Sort(out)
	return out
}

func testRoundTrip(t *testing.T, b archive.Backend) {
	for _, n := range []int{0, 1, 4096, 5<<20 + 3} {
		name := fmt.Sprintf("chunks/ab/obj-%d", n)
		data := payload(uint64(n), n)
		put(t, b, name, data)
		if got := get(t, b, name); !bytes.Equal(got, data) {
			t.Errorf("Get(%s) returned %d bytes, differing from the %d put", name, len(got), len(data))
		}
		oi, err := b.Stat(t.Context(), name)
		if err != nil || oi.Size != int64(n) || oi.Name != name {
			t.Errorf("Stat(%s) = %+v, %v; want size %d", name, oi, err, n)
		}
	}
}

func testReplace(t *testing.T, b archive.Backend) {
	put(t, b, "config", []byte("first version"))
	put(t, b, "config", []byte("second"))
	if got := get(t, b, "config"); string(got) != "second" {
		t.Errorf("Get after replace = %q, want %q", got, "second")
	}
	if got := names(t, b, ""); !slices.Equal(got, []string{"config"}) {
		t.Errorf("List after replace = %v", got)
	}
}

func testMissing(t *testing.T, b archive.Backend) {
	ctx := t.Context()
	if _, err := b.Get(ctx, "snapshots/nothing"); !errors.Is(err, archive.ErrNotFound) {
		t.Errorf("Get(missing) = %v, want ErrNotFound", err)
	}
	if _, err := b.Stat(ctx, "snapshots/nothing"); !errors.Is(err, archive.ErrNotFound) {
		t.Errorf("Stat(missing) = %v, want ErrNotFound", err)
	}
	if got := names(t, b, "snapshots/"); len(got) != 0 {
		t.Errorf("List of an empty backend = %v", got)
	}
}

func testList(t *testing.T, b archive.Backend) {
	all := []string{"config", "chunks/00/a", "chunks/00/b", "chunks/01/c", "snapshots/s1", "snapshots/s2", "snapshotsx"}
	for i, n := range all {
		put(t, b, n, payload(uint64(i), 10+i))
	}
	cases := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"chunks/00/a", "chunks/00/b", "chunks/01/c", "config", "snapshots/s1", "snapshots/s2", "snapshotsx"}},
		{"chunks/", []string{"chunks/00/a", "chunks/00/b", "chunks/01/c"}},
		{"chunks/00/", []string{"chunks/00/a", "chunks/00/b"}},
		{"snapshots/", []string{"snapshots/s1", "snapshots/s2"}},
		{"snapshots", []string{"snapshots/s1", "snapshots/s2", "snapshotsx"}},
		{"nothing/", nil},
	}
	for _, c := range cases {
		if got := names(t, b, c.prefix); !slices.Equal(got, c.want) {
			t.Errorf("List(%q) = %v, want %v", c.prefix, got, c.want)
		}
	}
	var sizes []int64
	if err := b.List(t.Context(), "chunks/00/", func(oi archive.ObjectInfo) error {
		sizes = append(sizes, oi.Size)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(sizes)
	if !slices.Equal(sizes, []int64{11, 12}) {
		t.Errorf("List sizes = %v, want [11 12]", sizes)
	}
	stop := errors.New("stop")
	calls := 0
	err := b.List(t.Context(), "", func(archive.ObjectInfo) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("List with a failing callback = %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func testDelete(t *testing.T, b archive.Backend) {
	put(t, b, "snapshots/s1", []byte("x"))
	put(t, b, "snapshots/s2", []byte("y"))
	if err := b.Delete(t.Context(), "snapshots/s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(t.Context(), "snapshots/s1"); !errors.Is(err, archive.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	if err := b.Delete(t.Context(), "snapshots/s1"); err != nil {
		t.Errorf("Delete of a missing object = %v, want nil", err)
	}
	if got := names(t, b, ""); !slices.Equal(got, []string{"snapshots/s2"}) {
		t.Errorf("List after Delete = %v", got)
	}
}

func testBadNames(t *testing.T, b archive.Backend) {
	ctx := t.Context()
	for _, n := range []string{"", "/abs", "a/../b", "a//b", "a/", "./a", "sp ace", ".tmp-x", "a/\x00"} {
		if err := b.Put(ctx, n, bytes.NewReader(nil), 0); !errors.Is(err, archive.ErrBadName) {
			t.Errorf("Put(%q) = %v, want ErrBadName", n, err)
		}
		if _, err := b.Get(ctx, n); !errors.Is(err, archive.ErrBadName) {
			t.Errorf("Get(%q) = %v, want ErrBadName", n, err)
		}
		if err := b.Delete(ctx, n); !errors.Is(err, archive.ErrBadName) {
			t.Errorf("Delete(%q) = %v, want ErrBadName", n, err)
		}
	}
}

func testCancelled(t *testing.T, b archive.Backend) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	data := payload(1, 1<<20)
	if err := b.Put(ctx, "config", bytes.NewReader(data), int64(len(data))); err == nil {
		t.Error("Put with a cancelled context succeeded")
	}
	if got := names(t, b, ""); len(got) != 0 {
		t.Errorf("a cancelled Put left %v", got)
	}
}

func testConcurrent(t *testing.T, b archive.Backend) {
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			data := payload(uint64(i), 1000+i)
			name := fmt.Sprintf("chunks/%02x/c%d", i%4, i)
			if err := b.Put(t.Context(), name, bytes.NewReader(data), int64(len(data))); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Put: %v", err)
	}
	if got := names(t, b, "chunks/"); len(got) != n {
		t.Errorf("List after %d concurrent puts = %d objects", n, len(got))
	}
	for i := range n {
		name := fmt.Sprintf("chunks/%02x/c%d", i%4, i)
		if got := get(t, b, name); !bytes.Equal(got, payload(uint64(i), 1000+i)) {
			t.Errorf("Get(%s) differs", name)
		}
	}
}
