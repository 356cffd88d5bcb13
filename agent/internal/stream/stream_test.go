package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testLogger routes logs to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// rig is a receiver behind an httptest server and its target directory.
type rig struct {
	rx   *Receiver
	srv  *httptest.Server
	dst  string
	url  string
	seen chan Position
}

func newRig(t testing.TB) *rig {
	t.Helper()
	r := &rig{dst: filepath.Join(t.TempDir(), "standby"), seen: make(chan Position, 1)}
	rx, err := NewReceiver(ReceiverConfig{
		Target: func(ds string) (string, error) {
			if ds != "robust-db" {
				return "", fmt.Errorf("dataset %s is not mirrored here", ds)
			}
			return r.dst, nil
		},
		StateDir: filepath.Join(t.TempDir(), "state"),
		Logger:   testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	r.rx = rx
	mux := http.NewServeMux()
	mux.Handle("/v1/stream/", rx)
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	r.url = r.srv.URL + "/v1/stream/"
	return r
}

// treeOf returns the regular files under dir.
func treeOf(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equalTrees(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// waitConverged polls until dst equals src and the sender reports no lag.
func waitConverged(t *testing.T, s *Sender, src, dst string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		// Trees first: once the standby holds the change, the lag must
		// drop to zero when the acknowledgement arrives.
		same := equalTrees(treeOf(t, src), treeOf(t, dst))
		l := s.Lag()
		if same && l.Bytes == 0 && l.Time == 0 && l.Connected {
			return
		}
		if time.Now().After(deadline) {
			a, b := treeOf(t, src), treeOf(t, dst)
			for k := range a {
				if a[k] != b[k] {
					t.Errorf("%s: source %d bytes, standby %d bytes", k, len(a[k]), len(b[k]))
				}
			}
			for k := range b {
				if _, ok := a[k]; !ok {
					t.Errorf("%s: on the standby only", k)
				}
			}
			t.Fatalf("standby did not converge; lag %+v", l)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func startSender(t *testing.T, cfg SenderConfig) (*Sender, chan error) {
	t.Helper()
	s, err := NewSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return s, done
}

func appendFile(t *testing.T, p string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
}

func writeAt(t *testing.T, p string, off int64, data []byte) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
}

// TestReplicates: appends, in-place page writes, new files in new
// directories, truncation, removal and empty files all reach the standby,
// and appends travel as appended ranges only.
func TestReplicates(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	src := t.TempDir()
	writeAt(t, filepath.Join(src, "ibdata1"), 0, bytes.Repeat([]byte{1}, 256<<10))
	s, done := startSender(t, SenderConfig{Dataset: "robust-db", Dir: src, URL: r.url, BlockSize: 4096, Logger: testLogger(t)})
	waitConverged(t, s, src, r.dst)

	steps := []struct {
		name string
		do   func()
	}{
		{"append to a log", func() {
			for i := range 50 {
				appendFile(t, filepath.Join(src, "binlog.000001"), fmt.Appendf(nil, "record %06d trade gold for sword\n", i))
			}
		}},
		{"rewrite pages in place", func() {
			writeAt(t, filepath.Join(src, "ibdata1"), 16384, bytes.Repeat([]byte{2}, 4096))
			writeAt(t, filepath.Join(src, "ibdata1"), 200000, []byte("page header v2"))
		}},
		{"grow a page file", func() { writeAt(t, filepath.Join(src, "ibdata1"), 300000, []byte("new extent")) }},
		{"new directory and file", func() {
			if err := os.MkdirAll(filepath.Join(src, "grid", "inventory"), 0o700); err != nil {
				t.Fatal(err)
			}
			writeAt(t, filepath.Join(src, "grid", "inventory", "items.ibd"), 0, bytes.Repeat([]byte("item"), 5000))
		}},
		{"empty file", func() { writeAt(t, filepath.Join(src, "grid", "empty.flag"), 0, nil) }},
		{"truncate", func() {
			if err := os.Truncate(filepath.Join(src, "ibdata1"), 100000); err != nil {
				t.Fatal(err)
			}
		}},
		{"rotate a log", func() {
			if err := os.WriteFile(filepath.Join(src, "binlog.000001"), []byte("rotated\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"remove a file", func() {
			if err := os.Remove(filepath.Join(src, "grid", "inventory", "items.ibd")); err != nil {
				t.Fatal(err)
			}
		}},
		{"remove a directory", func() {
			if err := os.RemoveAll(filepath.Join(src, "grid")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, st := range steps {
		start := time.Now()
		st.do()
		waitConverged(t, s, src, r.dst)
		t.Logf("step %q converged in %v", st.name, time.Since(start))
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	default:
	}
}

// TestAppendShipsOnlyNewBytes: a growing log costs its appended bytes, not
// a resend of the file.
func TestAppendShipsOnlyNewBytes(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	src := t.TempDir()
	log := filepath.Join(src, "wal.log")
	appendFile(t, log, bytes.Repeat([]byte("x"), 1<<20))
	s, _ := startSender(t, SenderConfig{Dataset: "robust-db", Dir: src, URL: r.url, Logger: testLogger(t)})
	waitConverged(t, s, src, r.dst)
	before := s.Lag().Shipped
	var appended int64
	for i := range 20 {
		rec := fmt.Appendf(nil, "commit %d\n", i)
		appended += int64(len(rec))
		appendFile(t, log, rec)
		waitConverged(t, s, src, r.dst)
	}
	if got := s.Lag().Shipped - before; got != appended {
		t.Errorf("20 appends of %d bytes in all shipped %d bytes", appended, got)
	}
}

// TestGrowingFileRewrittenInPlace: files not named like page files grow
// and are rewritten in place at the same time; the first-block check, or
// else the verification that re-reads append-only files a little at every
// rescan, finds the rewrite.
func TestGrowingFileRewrittenInPlace(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	src := t.TempDir()
	header, middle := filepath.Join(src, "world.state"), filepath.Join(src, "region.journal")
	writeAt(t, header, 0, bytes.Repeat([]byte{'a'}, 64<<10))
	writeAt(t, middle, 0, bytes.Repeat([]byte{'b'}, 64<<10))
	cfg := SenderConfig{Dataset: "robust-db", Dir: src, URL: r.url, BlockSize: 4096,
		Rescan: 50 * time.Millisecond, VerifyBytes: 16 << 10, Logger: testLogger(t)}
	ctx, cancel := context.WithCancel(t.Context())
	s, err := NewSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitConverged(t, s, src, r.dst)
	// Header rewrite plus growth: caught by the first-block check.
	writeAt(t, header, 0, []byte("HEADER v2"))
	appendFile(t, header, []byte("more"))
	waitConverged(t, s, src, r.dst)
	cancel()
	<-done
	// Middle rewrite plus growth while no sender runs: the new sender
	// sees growth with the sampled blocks intact and ships the appended
	// bytes; verification, 16 KiB per rescan, finds the rewrite.
	writeAt(t, middle, 30000, []byte("middle v2"))
	appendFile(t, middle, []byte("more"))
	s2, _ := startSender(t, cfg)
	waitConverged(t, s2, src, r.dst)
}

// TestResyncAfterRestart: a sender restarted after the files changed
// while it was down, and after the standby's copy was damaged, brings the
// standby back to the source.
func TestResyncAfterRestart(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	src := t.TempDir()
	writeAt(t, filepath.Join(src, "ibdata1"), 0, bytes.Repeat([]byte{1}, 100<<10))
	appendFile(t, filepath.Join(src, "binlog.000001"), bytes.Repeat([]byte("rec\n"), 1000))
	cfg := SenderConfig{Dataset: "robust-db", Dir: src, URL: r.url, BlockSize: 4096, Logger: testLogger(t)}
	ctx, cancel := context.WithCancel(t.Context())
	s, err := NewSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitConverged(t, s, src, r.dst)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}

	// While no sender runs: the source changes, the standby copy is
	// damaged and gains a stray file.
	writeAt(t, filepath.Join(src, "ibdata1"), 8192, []byte("page 3 v2"))
	appendFile(t, filepath.Join(src, "binlog.000001"), []byte("rec after restart\n"))
	writeAt(t, filepath.Join(r.dst, "ibdata1"), 50000, []byte("bit rot"))
	writeAt(t, filepath.Join(r.dst, "stray"), 0, []byte("x"))

	s2, _ := startSender(t, cfg)
	waitConverged(t, s2, src, r.dst)
	if l := s2.Lag(); l.Shipped > 20<<10 {
		t.Errorf("resync shipped %d bytes; only the changed blocks should travel", l.Shipped)
	}
}

// TestSuperseded: a second sender for the same dataset takes over; the
// first stops with ErrSuperseded at its next shipment.
func TestSuperseded(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	src := t.TempDir()
	cfg := SenderConfig{Dataset: "robust-db", Dir: src, URL: r.url, Logger: testLogger(t)}
	s1, done1 := startSender(t, cfg)
	appendFile(t, filepath.Join(src, "a.log"), []byte("one\n"))
	waitConverged(t, s1, src, r.dst)
	s2, _ := startSender(t, cfg)
	waitConverged(t, s2, src, r.dst) // s2's session is open: s1's is over
	appendFile(t, filepath.Join(src, "a.log"), []byte("two\n"))
	waitConverged(t, s2, src, r.dst)
	select {
	case err := <-done1:
		if !errors.Is(err, ErrSuperseded) {
			t.Fatalf("first sender ended with %v, want ErrSuperseded", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("first sender still running after being superseded")
	}
}

// TestMissingDirectoryKeepsStandby: a dataset directory that disappears
// (an unmounted volume) does not empty the standby.
func TestMissingDirectoryKeepsStandby(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	parent := t.TempDir()
	src := filepath.Join(parent, "mysql")
	if err := os.Mkdir(src, 0o700); err != nil {
		t.Fatal(err)
	}
	appendFile(t, filepath.Join(src, "binlog.000001"), []byte("committed\n"))
	s, _ := startSender(t, SenderConfig{Dataset: "robust-db", Dir: src, URL: r.url, Rescan: 20 * time.Millisecond, Logger: testLogger(t)})
	waitConverged(t, s, src, r.dst)
	want := treeOf(t, r.dst)
	if err := os.Rename(src, filepath.Join(parent, "away")); err != nil {
		t.Fatal(err)
	}
	// Ten rescan periods pass with nothing sent.
	settle := time.Now().Add(10 * 20 * time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(settle) || s.Lag().Time != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("lag never settled: %+v", s.Lag())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := treeOf(t, r.dst); !equalTrees(got, want) {
		t.Errorf("standby changed after the dataset directory vanished: %v", got)
	}
}

// TestBackPressure: while the standby refuses every request, the sender
// holds at most MaxInFlight bytes (plus one update) however much is
// written, and catches up once the standby is back.
func TestBackPressure(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if down.Load() && strings.HasSuffix(req.URL.Path, "/apply") {
			http.Error(w, "standby restarting", http.StatusServiceUnavailable)
			return
		}
		r.rx.ServeHTTP(w, req)
	}))
	defer srv.Close()
	src := t.TempDir()
	const limit = 1 << 20
	s, _ := startSender(t, SenderConfig{Dataset: "robust-db", Dir: src, URL: srv.URL + "/v1/stream/", MaxInFlight: limit, Logger: testLogger(t)})
	waitConverged(t, s, src, r.dst)
	down.Store(true)
	chunk := bytes.Repeat([]byte("binlog event\n"), 10<<10) // 130 KiB
	var peak int64
	for range 40 { // 5.2 MB, five times the limit
		appendFile(t, filepath.Join(src, "binlog.000001"), chunk)
		peak = max(peak, s.Lag().Bytes)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Lag().Bytes < limit-int64(writePiece) {
		if time.Now().After(deadline) {
			t.Fatalf("queue never filled: %+v", s.Lag())
		}
		time.Sleep(5 * time.Millisecond)
	}
	for range 20 {
		peak = max(peak, s.Lag().Bytes)
		time.Sleep(5 * time.Millisecond)
	}
	if peak > limit+writePiece+1024 {
		t.Errorf("sender held %d bytes with a limit of %d", peak, limit)
	}
	if l := s.Lag(); l.Time == 0 {
		t.Errorf("lag is zero while the standby is down: %+v", l)
	}
	down.Store(false)
	waitConverged(t, s, src, r.dst)
}

// TestLostAcknowledgement: the standby applies a batch but the connection
// drops before the answer; the sender resends, the standby skips what it
// has, and the copy ends equal to the source (no byte written twice out
// of place).
func TestLostAcknowledgement(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	var drops atomic.Int32
	drops.Store(3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasSuffix(req.URL.Path, "/apply") && drops.Add(-1) >= 0 {
			r.rx.ServeHTTP(httptest.NewRecorder(), req) // applied, answer lost
			panic(http.ErrAbortHandler)
		}
		r.rx.ServeHTTP(w, req)
	}))
	defer srv.Close()
	src := t.TempDir()
	s, _ := startSender(t, SenderConfig{Dataset: "robust-db", Dir: src, URL: srv.URL + "/v1/stream/", BlockSize: 4096, Logger: testLogger(t)})
	for i := range 5 {
		appendFile(t, filepath.Join(src, "binlog.000001"), fmt.Appendf(nil, "event %d\n", i))
		writeAt(t, filepath.Join(src, "world.db"), int64(i)*4096, bytes.Repeat([]byte{byte('a' + i)}, 4096))
		waitConverged(t, s, src, r.dst)
	}
	if drops.Load() >= 0 {
		t.Errorf("only %d of 3 answers were dropped", 3-drops.Load())
	}
}
