package stream

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkReplicationLag measures replication lag under a steady write
// load of 5 MB/s: every 10 ms (paced from the start), 40 KiB appended to a binary log and 10 KiB
// of pages rewritten in a 4 MiB database file, each fsynced. The lag of a
// log write is the time from its fsync on the source to the receiver
// having made it durable (its acknowledgement hook). Reported: p50-ms,
// p99-ms and max-ms over all log writes. Run with a fixed count, e.g.
// -benchtime 500x (5 s of load).
func BenchmarkReplicationLag(b *testing.B) {
	dst := filepath.Join(b.TempDir(), "standby")
	src := b.TempDir()
	logPath := filepath.Join(src, "binlog.000001")
	dstLog := filepath.Join(dst, "binlog.000001")

	type pending struct {
		end int64
		at  time.Time
	}
	var mu sync.Mutex
	var waiting []pending
	var lags []time.Duration
	onApplied := func(string, Position) {
		fi, err := os.Stat(dstLog)
		if err != nil {
			return
		}
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		i := 0
		for i < len(waiting) && waiting[i].end <= fi.Size() {
			lags = append(lags, now.Sub(waiting[i].at))
			i++
		}
		waiting = waiting[i:]
	}
	rx, err := NewReceiver(ReceiverConfig{
		Target:    func(string) (string, error) { return dst, nil },
		StateDir:  filepath.Join(b.TempDir(), "state"),
		OnApplied: onApplied,
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/v1/stream", rx))
	defer srv.Close()

	logF, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer logF.Close()
	dbF, err := os.OpenFile(filepath.Join(src, "world.db"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer dbF.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	pageData := make([]byte, 4<<20)
	for i := range pageData {
		pageData[i] = byte(rng.Uint32())
	}
	if _, err := dbF.WriteAt(pageData, 0); err != nil {
		b.Fatal(err)
	}
	s, err := NewSender(SenderConfig{Dataset: "robust-db", Dir: src, URL: srv.URL + "/v1/stream/"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for !s.Lag().Connected || s.Lag().Time != 0 {
		if time.Now().After(deadline) {
			b.Fatal("sender did not catch up before the load")
		}
		time.Sleep(5 * time.Millisecond)
	}

	logChunk := bytes.Repeat([]byte("binlog event: trade 0000 gold for sword;\n"), 1000)[:40<<10]
	page := make([]byte, 10<<10)
	var size int64
	// Writes are due every 10 ms from the start; a late writer catches
	// up, so the offered load averages 5 MB/s.
	start := time.Now()
	n := 0
	b.SetBytes(50 << 10)
	b.ReportAllocs()
	for b.Loop() {
		if wait := time.Until(start.Add(time.Duration(n) * 10 * time.Millisecond)); wait > 0 {
			time.Sleep(wait)
		}
		n++
		if _, err := logF.Write(logChunk); err != nil {
			b.Fatal(err)
		}
		if err := logF.Sync(); err != nil {
			b.Fatal(err)
		}
		size += int64(len(logChunk))
		mu.Lock()
		waiting = append(waiting, pending{end: size, at: time.Now()})
		mu.Unlock()
		for i := range page {
			page[i] = byte(rng.Uint32())
		}
		if _, err := dbF.WriteAt(page, rng.Int64N(int64(len(pageData)-len(page)))); err != nil {
			b.Fatal(err)
		}
		if err := dbF.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	deadline = time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		left := len(waiting)
		mu.Unlock()
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d log writes never acknowledged", left)
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lags)
	pct := func(p float64) float64 {
		return float64(lags[int(p*float64(len(lags)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
}
