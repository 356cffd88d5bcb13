package gossip

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// testWriter forwards to t.Output until the test is over; memberlist
// goroutines may log a line after their pool was shut down.
type testWriter struct {
	mu   sync.Mutex
	w    io.Writer
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	return w.w.Write(p)
}

func testLogger(t *testing.T, name string) *slog.Logger {
	t.Helper()
	w := &testWriter{w: t.Output()}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", name)
}

func testConfig(t *testing.T, name string, meta Meta) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.NodeName = name
	cfg.BindAddr = "127.0.0.1"
	cfg.BindPort = 0
	cfg.Profile = ProfileFast
	cfg.Meta = meta
	cfg.Logger = testLogger(t, name)
	return cfg
}

func agentMeta(host string, role Role) Meta {
	return Meta{Kind: KindAgent, HostID: host, Region: "eu-west", Role: role, Version: "0.1.0", MirrorAddr: "127.0.0.1:8400"}
}

func coordMeta(host string) Meta {
	return Meta{Kind: KindCoordinator, HostID: host, Region: "eu-west", Version: "0.1.0",
		RaftAddr: "127.0.0.1:8300", HTTPAddr: "127.0.0.1:8500", DNSAddr: "127.0.0.1:8600"}
}

// startPool creates a pool and shuts it down at the end of the test.
func startPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", cfg.NodeName, err)
	}
	t.Cleanup(func() {
		if err := p.Shutdown(); err != nil {
			t.Errorf("Shutdown(%s): %v", cfg.NodeName, err)
		}
	})
	return p
}

func join(t *testing.T, p *Pool, to *Pool) {
	t.Helper()
	if _, err := p.Join(t.Context(), []string{to.Addr()}); err != nil {
		t.Fatalf("%s joins %s: %v", p.LocalNode().Name, to.Addr(), err)
	}
}

const waitTimeout = 15 * time.Second

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", waitTimeout, what)
		}
		<-tick.C
	}
}

func member(p *Pool, name string) (Member, bool) {
	for _, m := range p.Members() {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}

// waitEvent reads events until one matches, or fails at the deadline.
func waitEvent(t *testing.T, ch <-chan Event, what string, match func(Event) bool) Event {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("event channel closed waiting for %s", what)
			}
			if match(ev) {
				return ev
			}
			t.Logf("skipping event %s %s while waiting for %s", ev.Type, ev.Member.Name, what)
		case <-timer.C:
			t.Fatalf("timed out after %s waiting for event %s", waitTimeout, what)
		}
	}
}
