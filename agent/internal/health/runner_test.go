package health

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testLogger sends logs to t.Log, so they show only when a test fails.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// waitTimeout bounds every wait in these tests; it is only reached when
// something is broken.
const waitTimeout = 20 * time.Second

// steppedServer is an HTTP service whose every answer the test decides:
// each request waits until the test replies with a status code. Because a
// check probes again only after recording the previous result, the
// runner's status when request n+1 arrives reflects exactly results 1..n.
type steppedServer struct {
	*httptest.Server
	requests chan chan int
}

func newSteppedServer(t *testing.T) *steppedServer {
	s := &steppedServer{requests: make(chan chan int)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reply := make(chan int, 1)
		select {
		case s.requests <- reply:
		case <-r.Context().Done():
			return
		}
		select {
		case code := <-reply:
			w.WriteHeader(code)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// next waits for the check's next request.
func (s *steppedServer) next(t *testing.T) chan<- int {
	t.Helper()
	select {
	case reply := <-s.requests:
		return reply
	case <-time.After(waitTimeout):
		t.Fatal("no request from the check")
		return nil
	}
}

// startRunner runs r until the test ends and checks that Run returns nil
// and closes Changes.
func startRunner(t *testing.T, r *Runner) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("Run did not return after cancel")
		}
		for range r.Changes() { // must be closed, else this blocks
		}
	})
}

// waitChange receives from Changes until a snapshot satisfies ok.
func waitChange(t *testing.T, r *Runner, ok func(map[string]Status) bool) map[string]Status {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case m := <-r.Changes():
			if ok(m) {
				return m
			}
		case <-deadline:
			t.Fatalf("no change notification matched; status now %v", r.Status())
			return nil
		}
	}
}

func newRunner(t *testing.T, checks map[string]CheckConfig) *Runner {
	t.Helper()
	r, err := New(checks, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// stepInterval is short enough to keep the tests quick and long enough that
// a loaded machine answers a stepped request well within the timeout.
const stepInterval = 250 * time.Millisecond

// TestRunnerThresholds drives one HTTP check through start, failure and
// recovery, and counts the results each change took.
func TestRunnerThresholds(t *testing.T) {
	t.Parallel()
	const failures, successes = 3, 2
	srv := newSteppedServer(t)
	ln := listen(t)
	r := newRunner(t, map[string]CheckConfig{
		"login": {HTTP: srv.URL, Interval: stepInterval, Timeout: stepInterval,
			FailuresBeforeCritical: failures, SuccessesBeforePassing: successes},
		"db": {TCP: ln.Addr().String(), Interval: stepInterval},
	})
	if got, want := r.Status(), (map[string]Status{"login": Critical, "db": Critical}); !maps.Equal(got, want) {
		t.Fatalf("Status before Run = %v, want %v", got, want)
	}
	startRunner(t, r)

	// drive answers code until login reaches want, and returns how many
	// answers that took.
	drive := func(code int, want Status) int {
		t.Helper()
		reply := srv.next(t)
		for n := 1; n <= 10; n++ {
			reply <- code
			reply = srv.next(t)
			if got := r.Status()["login"]; got == want {
				// Answer the request that is already waiting like the
				// others: it comes after the change, so it does not count.
				reply <- code
				return n
			}
		}
		t.Fatalf("login not %s after 10 answers of %d", want, code)
		return 0
	}

	if n := drive(http.StatusOK, Passing); n != successes {
		t.Errorf("start: passing after %d successes, want %d", n, successes)
	}
	waitChange(t, r, func(m map[string]Status) bool { return m["login"] == Passing })

	if n := drive(http.StatusInternalServerError, Critical); n != failures {
		t.Errorf("failing: critical after %d failures, want %d", n, failures)
	}
	m := waitChange(t, r, func(m map[string]Status) bool { return m["login"] == Critical })
	if m["db"] != Passing {
		t.Errorf("change notification %v: want db passing alongside", m)
	}

	if n := drive(http.StatusOK, Passing); n != successes {
		t.Errorf("recovery: passing after %d successes, want %d", n, successes)
	}
	waitChange(t, r, func(m map[string]Status) bool { return m["login"] == Passing })
}

// TestRunnerFlappingCheck answers alternately well and badly, once per
// interval: the status must not move.
func TestRunnerFlappingCheck(t *testing.T) {
	t.Parallel()
	srv := newSteppedServer(t)
	r := newRunner(t, map[string]CheckConfig{
		"login": {HTTP: srv.URL, Interval: stepInterval, Timeout: stepInterval,
			FailuresBeforeCritical: 2, SuccessesBeforePassing: 2},
	})
	startRunner(t, r)
	srv.next(t) <- http.StatusOK
	srv.next(t) <- http.StatusOK
	waitChange(t, r, func(m map[string]Status) bool { return m["login"] == Passing })

	codes := []int{http.StatusInternalServerError, http.StatusOK, http.StatusTooManyRequests, http.StatusOK}
	for i := range 12 {
		reply := srv.next(t)
		if got := r.Status()["login"]; got != Passing {
			t.Fatalf("after %d alternating answers: %s, want passing", i, got)
		}
		reply <- codes[i%len(codes)]
	}
	srv.next(t) <- http.StatusOK
	select {
	case m := <-r.Changes():
		t.Errorf("change notification %v while flapping, want none", m)
	default:
	}
}

// TestRunnerChangesCoalesce lets changes pile up unread: the checks keep
// running, and the reader then finds only the latest statuses.
func TestRunnerChangesCoalesce(t *testing.T) {
	t.Parallel()
	srv := newSteppedServer(t)
	r := newRunner(t, map[string]CheckConfig{
		"login": {HTTP: srv.URL, Interval: stepInterval, Timeout: stepInterval},
	})
	startRunner(t, r)
	codes := []int{http.StatusOK, http.StatusInternalServerError, http.StatusTooManyRequests, http.StatusOK, http.StatusInternalServerError}
	for _, code := range codes {
		srv.next(t) <- code
	}
	// This request arrives only once the last answer is recorded.
	reply := srv.next(t)
	want := map[string]Status{"login": Critical}
	if got := r.Status(); !maps.Equal(got, want) {
		t.Fatalf("Status = %v, want %v", got, want)
	}
	select {
	case got := <-r.Changes():
		if !maps.Equal(got, want) {
			t.Errorf("Changes delivered %v, want the latest, %v", got, want)
		}
	default:
		t.Fatal("no change notification pending")
	}
	select {
	case got := <-r.Changes():
		t.Errorf("second notification %v, want one coalesced", got)
	default:
	}
	reply <- http.StatusInternalServerError
}

// TestRunnerCommandCheck runs a command check that fails at the timeout:
// the runner keeps probing, and each probe's process group is killed.
func TestRunnerCommandCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// The command hangs while the file "hang" exists and appends its pid
	// to "pids" each time.
	script := `echo $$ >> "$0/pids"; if [ -e "$0/hang" ]; then sleep 600; fi; exit 0`
	if err := os.WriteFile(filepath.Join(dir, "hang"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, map[string]CheckConfig{
		"robust": {Command: []string{"sh", "-c", script, dir}, Interval: 200 * time.Millisecond, Timeout: 100 * time.Millisecond,
			FailuresBeforeCritical: 1, SuccessesBeforePassing: 1},
	})
	startRunner(t, r)
	// Three hung probes, each killed at the timeout.
	pids := waitPids(t, filepath.Join(dir, "pids"), 3)
	for _, pid := range pids[:2] {
		waitGone(t, pid)
	}
	if got := r.Status()["robust"]; got != Critical {
		t.Errorf("hung command: %s, want critical", got)
	}
	if err := os.Remove(filepath.Join(dir, "hang")); err != nil {
		t.Fatal(err)
	}
	waitChange(t, r, func(m map[string]Status) bool { return m["robust"] == Passing })
}

func TestRunnerRunOnce(t *testing.T) {
	t.Parallel()
	r := newRunner(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := r.Run(ctx); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if _, open := <-r.Changes(); open {
		t.Error("Changes not closed after Run returned")
	}
	if err := r.Run(t.Context()); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
	if got := r.Status(); len(got) != 0 {
		t.Errorf("Status with no checks = %v, want empty", got)
	}
}

func TestNewRejectsBadChecks(t *testing.T) {
	t.Parallel()
	_, err := New(map[string]CheckConfig{
		"login": {HTTP: "ftp://x/", Interval: -1},
		"db":    {TCP: "127.0.0.1:5432"},
		"":      {TCP: "127.0.0.1:1"},
		"web":   {},
	}, nil)
	if err == nil {
		t.Fatal("New accepted bad checks")
	}
	for _, want := range []string{
		`health: a check has an empty name`,
		`health: check "login": http: "ftp://x/" is not an http:// or https:// URL`,
		`health: check "login": interval: -1ns is negative`,
		`health: check "web": check: set one of http, tcp or command`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("New error %q, want it to contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), `"db"`) {
		t.Errorf("New error %q mentions the valid check db", err)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln
}

// waitPids polls a file of pids, one a line, until it holds at least n.
func waitPids(t *testing.T, path string, n int) []int {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		b, err := os.ReadFile(path)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		var pids []int
		for f := range strings.FieldsSeq(string(b)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				break // a line being written
			}
			pids = append(pids, pid)
		}
		if len(pids) >= n {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d pids, want %d", path, len(pids), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
