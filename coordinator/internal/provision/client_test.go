package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The test binary doubles as a command hook: with UNDERSTUDY_TEST_HOOK_DIR
// set it reads a request, logs it to DIR/<id>.log (one line per attempt) and
// answers. HOOK_FAIL_FIRST=n fails the first n attempts of each ID,
// HOOK_REJECT=1 refuses, HOOK_HANG=1 never answers.
func TestMain(m *testing.M) {
	if dir := os.Getenv("UNDERSTUDY_TEST_HOOK_DIR"); dir != "" {
		os.Exit(runTestHook(dir))
	}
	os.Exit(m.Run())
}

func runTestHook(dir string) int {
	var req Request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "bad request:", err)
		return 3
	}
	if os.Getenv("UNDERSTUDY_REQUEST_ID") != req.ID {
		fmt.Fprintln(os.Stderr, "UNDERSTUDY_REQUEST_ID does not match")
		return 3
	}
	line, _ := json.Marshal(req)
	f, err := os.OpenFile(filepath.Join(dir, req.ID+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	f.Write(append(line, '\n'))
	f.Close()
	attempts := len(readLog(dir, req.ID))
	if os.Getenv("HOOK_HANG") == "1" {
		select {} // until the client's timeout kills us
	}
	if n, _ := strconv.Atoi(os.Getenv("HOOK_FAIL_FIRST")); attempts <= n {
		fmt.Fprintf(os.Stderr, "cloud API unavailable (attempt %d)\n", attempts)
		return 1
	}
	if os.Getenv("HOOK_REJECT") == "1" {
		json.NewEncoder(os.Stdout).Encode(Response{ID: req.ID, Error: "quota exceeded in " + req.Region})
		return 0
	}
	json.NewEncoder(os.Stdout).Encode(answer(req))
	return 0
}

// answer is what the test hooks return: one host per requested server.
func answer(req Request) Response {
	resp := Response{ID: req.ID, Hosts: req.Hosts}
	if req.Kind == KindProvision {
		for i := range req.Count {
			resp.Hosts = append(resp.Hosts, fmt.Sprintf("%s-%s-%d", req.Region, req.ID, i))
		}
	}
	return resp
}

func readLog(dir, id string) []string {
	b, err := os.ReadFile(filepath.Join(dir, id+".log"))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func fastConfig() Config {
	cfg := DefaultConfig()
	cfg.Timeout = 10 * time.Second
	cfg.BackoffInitial = time.Millisecond
	cfg.BackoffMax = 4 * time.Millisecond
	return cfg
}

// commandClient returns a client whose hook is this test binary, with env
// set for the hook, and the hook's log directory.
func commandClient(t *testing.T, cfg Config, env ...string) (*Client, string) {
	t.Helper()
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("UNDERSTUDY_TEST_HOOK_DIR", dir)
	// Under -race the hook would otherwise linger a second at exit.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg.Command = []string{exe, "-test.run=^$"}
	c, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return c, dir
}

// Tests using commandClient set environment variables, so they do not run
// in parallel.

func TestCommandRequestsExactlyOncePerID(t *testing.T) {
	c, dir := commandClient(t, fastConfig())
	req := Request{ID: "eu-west-17", Kind: KindProvision, Region: "eu-west", Count: 3, Reason: "standby 1 of target 4"}
	resp, err := c.Do(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Hosts) != 3 {
		t.Errorf("hosts = %v, want 3", resp.Hosts)
	}
	again, err := c.Do(t.Context(), req)
	if err != nil || len(again.Hosts) != 3 || again.Hosts[0] != resp.Hosts[0] {
		t.Errorf("repeat: %v, %v; want the recorded answer", again, err)
	}
	log := readLog(dir, req.ID)
	if len(log) != 1 {
		t.Fatalf("hook ran %d times for one id, want 1", len(log))
	}
	var got Request
	if err := json.Unmarshal([]byte(log[0]), &got); err != nil {
		t.Fatal(err)
	}
	if !got.same(req) || got.Reason != req.Reason {
		t.Errorf("hook received %+v, want %+v", got, req)
	}
	if _, ok := c.Completed(req.ID); !ok {
		t.Error("completed id not recorded")
	}
	if _, err := c.Do(t.Context(), Request{ID: req.ID, Kind: KindProvision, Region: "eu-west", Count: 5}); !errors.Is(err, ErrConflict) {
		t.Errorf("same id, other count: %v, want ErrConflict", err)
	}
}

func TestCommandRetriesFailures(t *testing.T) {
	c, dir := commandClient(t, fastConfig(), "HOOK_FAIL_FIRST=2")
	req := Request{ID: "r1", Kind: KindRelease, Region: "eu-west", Hosts: []string{"h1", "h2"}}
	resp, err := c.Do(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(resp.Hosts, ",") != "h1,h2" {
		t.Errorf("hosts = %v", resp.Hosts)
	}
	if n := len(readLog(dir, req.ID)); n != 3 {
		t.Errorf("hook ran %d times, want 3 (two failures, one success)", n)
	}
}

func TestCommandGivesUpAfterMaxAttempts(t *testing.T) {
	cfg := fastConfig()
	cfg.MaxAttempts = 2
	c, dir := commandClient(t, cfg, "HOOK_FAIL_FIRST=100")
	_, err := c.Do(t.Context(), Request{ID: "p1", Kind: KindProvision, Region: "r", Count: 1})
	if err == nil || !strings.Contains(err.Error(), "cloud API unavailable") || !strings.Contains(err.Error(), "2 attempts") {
		t.Errorf("error %v, want the hook's stderr and the attempt count", err)
	}
	if n := len(readLog(dir, "p1")); n != 2 {
		t.Errorf("hook ran %d times, want 2", n)
	}
	if _, ok := c.Completed("p1"); ok {
		t.Error("failed request recorded as completed")
	}
}

func TestCommandRejectionIsNotRetried(t *testing.T) {
	c, dir := commandClient(t, fastConfig(), "HOOK_REJECT=1")
	_, err := c.Do(t.Context(), Request{ID: "p2", Kind: KindProvision, Region: "eu-west", Count: 4})
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "quota exceeded in eu-west") {
		t.Errorf("error %v, want ErrRejected with the hook's message", err)
	}
	if n := len(readLog(dir, "p2")); n != 1 {
		t.Errorf("hook ran %d times, want 1", n)
	}
}

func TestCommandTimeoutKillsHungHook(t *testing.T) {
	cfg := fastConfig()
	cfg.Timeout = 200 * time.Millisecond
	cfg.MaxAttempts = 2
	c, dir := commandClient(t, cfg, "HOOK_HANG=1")
	_, err := c.Do(t.Context(), Request{ID: "h1", Kind: KindRestart, Region: "r", Hosts: []string{"sim-4"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want the attempt deadline", err)
	}
	if n := len(readLog(dir, "h1")); n != 2 {
		t.Errorf("hook ran %d times, want 2", n)
	}
}

// webhook is a real HTTP hook that records the requests it receives.
type webhook struct {
	srv *httptest.Server

	mu       sync.Mutex // guards the fields below
	byID     map[string]int
	inFlight int
	maxSeen  int
	headers  []http.Header
}

func newWebhook(t *testing.T, handle func(w http.ResponseWriter, req Request, attempt int)) *webhook {
	t.Helper()
	h := &webhook{byID: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req Request
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req); err != nil || r.Method != http.MethodPost {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.byID[req.ID]++
		attempt := h.byID[req.ID]
		h.inFlight++
		h.maxSeen = max(h.maxSeen, h.inFlight)
		h.headers = append(h.headers, r.Header.Clone())
		h.mu.Unlock()
		defer func() {
			h.mu.Lock()
			h.inFlight--
			h.mu.Unlock()
		}()
		handle(w, req, attempt)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *webhook) count(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.byID[id]
}

func webhookClient(t *testing.T, h *webhook, cfg Config) *Client {
	t.Helper()
	cfg.Webhook = h.srv.URL + "/provision"
	c, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeAnswer(w http.ResponseWriter, req Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer(req))
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWebhookRetriesThenSucceeds(t *testing.T) {
	t.Parallel()
	h := newWebhook(t, func(w http.ResponseWriter, req Request, attempt int) {
		switch attempt {
		case 1:
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
		case 2:
			http.Error(w, "slow down", http.StatusTooManyRequests)
		default:
			writeAnswer(w, req)
		}
	})
	cfg := fastConfig()
	cfg.Token = "s3cret"
	c := webhookClient(t, h, cfg)
	resp, err := c.Do(t.Context(), Request{ID: "w1", Kind: KindProvision, Region: "us-east", Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Hosts) != 2 || h.count("w1") != 3 {
		t.Errorf("hosts %v after %d posts, want 2 hosts after 3 posts", resp.Hosts, h.count("w1"))
	}
	for _, hd := range h.headers {
		if hd.Get("Idempotency-Key") != "w1" || hd.Get("Authorization") != "Bearer s3cret" || hd.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", hd)
		}
	}
}

func TestWebhookRejections(t *testing.T) {
	t.Parallel()
	h := newWebhook(t, func(w http.ResponseWriter, req Request, _ int) {
		if req.Region == "forbidden" {
			http.Error(w, "no such region", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(Response{Error: "out of capacity"})
	})
	c := webhookClient(t, h, fastConfig())
	for _, req := range []Request{
		{ID: "a", Kind: KindProvision, Region: "forbidden", Count: 1},
		{ID: "b", Kind: KindProvision, Region: "eu", Count: 1},
	} {
		_, err := c.Do(t.Context(), req)
		if !errors.Is(err, ErrRejected) {
			t.Errorf("%s: %v, want ErrRejected", req.ID, err)
		}
		if n := h.count(req.ID); n != 1 {
			t.Errorf("%s: %d posts, want 1", req.ID, n)
		}
	}
}

func TestWebhookBadAnswerIsRetriedUntilContextEnds(t *testing.T) {
	t.Parallel()
	h := newWebhook(t, func(w http.ResponseWriter, _ Request, _ int) {
		io.WriteString(w, "<html>maintenance</html>")
	})
	c := webhookClient(t, h, fastConfig())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Do(ctx, Request{ID: "x", Kind: KindProvision, Region: "eu", Count: 1})
		errc <- err
	}()
	waitFor(t, "three attempts", func() bool { return h.count("x") >= 3 })
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("error %v, want context.Canceled and the last failure", err)
	}
}

func TestConcurrentSameIDReachesHookOnce(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	h := newWebhook(t, func(w http.ResponseWriter, req Request, _ int) {
		<-release
		writeAnswer(w, req)
	})
	c := webhookClient(t, h, fastConfig())
	req := Request{ID: "same", Kind: KindProvision, Region: "eu", Count: 5}
	const callers = 10
	var wg sync.WaitGroup
	results := make(chan Response, callers)
	first := func() {
		defer wg.Done()
		resp, err := c.Do(t.Context(), req)
		if err != nil {
			t.Error(err)
		}
		results <- resp
	}
	wg.Add(1)
	go first()
	waitFor(t, "the first post", func() bool { return h.count("same") == 1 })
	for range callers - 1 {
		wg.Add(1)
		go first()
	}
	waitFor(t, "the other callers to join", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		cl := c.inflight["same"]
		return cl != nil && cl.waiters == callers-1
	})
	close(release)
	wg.Wait()
	close(results)
	for r := range results {
		if len(r.Hosts) != 5 {
			t.Errorf("a caller got %v, want 5 hosts", r.Hosts)
		}
	}
	if n := h.count("same"); n != 1 {
		t.Errorf("%d posts for one id, want 1", n)
	}
}

func TestInFlightBound(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	h := newWebhook(t, func(w http.ResponseWriter, req Request, _ int) {
		<-release
		writeAnswer(w, req)
	})
	cfg := fastConfig()
	cfg.MaxInFlight = 3
	c := webhookClient(t, h, cfg)
	const n = 12
	var (
		wg sync.WaitGroup
		ok atomic.Int32
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Do(t.Context(), Request{ID: fmt.Sprintf("id-%d", i), Kind: KindProvision, Region: "eu", Count: 1})
			if err != nil {
				t.Error(err)
				return
			}
			ok.Add(1)
		}()
	}
	waitFor(t, "three requests in flight", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.inFlight == 3
	})
	close(release)
	wg.Wait()
	if ok.Load() != n {
		t.Errorf("%d of %d requests succeeded", ok.Load(), n)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.maxSeen != 3 {
		t.Errorf("at most %d requests were in flight at once, want exactly the bound 3", h.maxSeen)
	}
	for i := range n {
		if got := h.byID[fmt.Sprintf("id-%d", i)]; got != 1 {
			t.Errorf("id-%d posted %d times", i, got)
		}
	}
}

func TestRememberedIDsAreBounded(t *testing.T) {
	t.Parallel()
	h := newWebhook(t, func(w http.ResponseWriter, req Request, _ int) { writeAnswer(w, req) })
	cfg := fastConfig()
	cfg.RememberIDs = 2
	c := webhookClient(t, h, cfg)
	for _, id := range []string{"a", "b", "c", "a"} {
		if _, err := c.Do(t.Context(), Request{ID: id, Kind: KindProvision, Region: "eu", Count: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.count("a"); got != 2 {
		t.Errorf("a posted %d times, want 2 (forgotten after b and c)", got)
	}
	if _, ok := c.Completed("b"); ok {
		t.Error("b still remembered with remember_ids 2")
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	bad := Config{Command: []string{"x"}, Webhook: "ftp://x", Token: "t", MaxAttempts: -1}
	err := bad.Validate()
	for _, want := range []string{"exclude each other", "provisioner.webhook", "provisioner.timeout", "max_in_flight", "backoff_initial", "max_attempts", "remember_ids"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want a mention of %q", err, want)
		}
	}
	if err := (Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "either command or webhook") {
		t.Errorf("empty config: %v", err)
	}
	if _, err := New(DefaultConfig(), testLogger(t)); err == nil {
		t.Error("New accepted a config without a hook")
	}
	c, err := New(Config{Webhook: "http://127.0.0.1:1/", Timeout: time.Second, MaxInFlight: 1, BackoffInitial: time.Millisecond, BackoffMax: time.Millisecond, RememberIDs: 1}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []Request{
		{Kind: KindProvision, Region: "eu", Count: 1},
		{ID: "x", Kind: KindProvision, Count: 1},
		{ID: "x", Kind: KindProvision, Region: "eu"},
		{ID: "x", Kind: KindRelease, Region: "eu"},
		{ID: "x", Kind: KindRestart, Region: "eu", Count: 2},
		{ID: "x", Kind: "reboot", Region: "eu", Count: 1},
	} {
		if _, err := c.Do(t.Context(), req); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("Do(%+v) = %v, want ErrInvalidRequest", req, err)
		}
	}
}
