package mirror_test

import (
	"context"
	"testing"

	"github.com/understudy/understudy/agent/internal/mirror"
	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/store"
)

// BenchmarkSend mirrors a 64 MiB snapshot of incompressible files into an
// empty store over mutual TLS on loopback (the initial mirror's path:
// every chunk read, framed, sent, checked and packed).
func BenchmarkSend(b *testing.B) {
	c := newCA(b)
	src := b.TempDir()
	genTree(b, src, 9, 64<<20)
	a := openStore(b, b.TempDir())
	rec := snap(b, a, src)
	var total int64
	a.ListChunks(context.Background(), func(_ chunk.ID, l store.Location) error { total += int64(l.RawLength); return nil })
	tc := c.creds(b, "host-a").ClientTLS("host-b")
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		rst := openStore(b, b.TempDir())
		addr := receiver(b, rst, c, "host-b", mirror.ServerConfig{Logger: nopLogger()}, nil)
		cl := mirror.NewClient(addr, mirror.ClientOptions{TLS: tc})
		b.StartTimer()
		res, err := cl.Send(context.Background(), a, rec)
		if err != nil || res.Sent != res.Chunks {
			b.Fatalf("%+v %v", res, err)
		}
		cl.Close()
	}
}

// BenchmarkSendIncremental mirrors a snapshot that differs from one the
// receiver already holds in a few database pages: the incremental path
// (walk, offer, a few chunks, commit with its completeness check).
func BenchmarkSendIncremental(b *testing.B) {
	c := newCA(b)
	src := b.TempDir()
	genDB(b, src, 96<<20)
	a := openStore(b, b.TempDir())
	rec1 := snap(b, a, src)
	touchPages(b, src)
	rec2 := snap(b, a, src)
	tc := c.creds(b, "host-a").ClientTLS("host-b")
	b.SetBytes(rec2.Stats.Bytes)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		rst := openStore(b, b.TempDir())
		addr := receiver(b, rst, c, "host-b", mirror.ServerConfig{Logger: nopLogger()}, nil)
		cl := mirror.NewClient(addr, mirror.ClientOptions{TLS: tc})
		if _, err := cl.Send(context.Background(), a, rec1); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := cl.Send(context.Background(), a, rec2)
		if err != nil || res.Sent == 0 || res.Base == "" {
			b.Fatalf("%+v %v", res, err)
		}
		cl.Close()
	}
}
