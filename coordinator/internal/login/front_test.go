package login

import (
	"context"
	"errors"
	"net"
	"testing"
)

func TestFrontLifecycle(t *testing.T) {
	t.Parallel()
	cat := newTestCatalog(t)
	f, err := New(Config{Addr: "127.0.0.1:0", Logger: testLogger(t)}, cat)
	if err != nil {
		t.Fatal(err)
	}
	// The address is bound before Run.
	conn, err := net.Dial("tcp", f.Addr())
	if err != nil {
		t.Fatalf("dial before Run: %v", err)
	}
	conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	if got := do(t, client(t), "POST", "http://"+f.Addr()+"/grid/none/", "", ada); got.status != 404 {
		t.Fatalf("running front answered %d %s", got.status, got.body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if err := f.Run(context.Background()); !errors.Is(err, ErrFrontRun) {
		t.Fatalf("second Run = %v, want ErrFrontRun", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close after Run = %v", err)
	}

	// Close without Run releases the listener, once.
	g, err := New(Config{Addr: "127.0.0.1:0"}, cat)
	if err != nil {
		t.Fatal(err)
	}
	addr := g.Addr()
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if err := g.Run(context.Background()); !errors.Is(err, ErrFrontRun) {
		t.Fatalf("Run after Close = %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listener not released: %v", err)
	}
	ln.Close()
}

// TestFailureCallbackCoalesced checks that failures of one instance are
// reported once while the report is still running, and that Run waits for
// the callback.
func TestFailureCallbackCoalesced(t *testing.T) {
	t.Parallel()
	cat := newTestCatalog(t)
	backup := startLogin(t, "osgrid", "backup")
	dead := startLogin(t, "osgrid", "primary")
	dead.Close()
	cat.register("h1", loginDef(t, "osgrid", dead.Addr(), true))
	cat.register("h2", loginDef(t, "osgrid", backup.Addr(), false))

	release := make(chan struct{})
	calls := make(chan string, 16)
	f, err := New(Config{Addr: "127.0.0.1:0", Logger: testLogger(t), OnUpstreamFailure: func(grid, host, service string, err error) {
		calls <- host
		<-release
	}}, cat)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	c := client(t)
	for range 3 {
		if got := do(t, c, "POST", "http://"+f.Addr()+"/grid/osgrid/", "", ada); servedBy(got.body) != "backup" {
			t.Fatalf("login = %d %s", got.status, got.body)
		}
	}
	if h := <-calls; h != "h1" {
		t.Fatalf("callback for %s, want h1", h)
	}
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Run returned %v with a callback still running", err)
	default:
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(calls); n != 0 {
		t.Fatalf("%d more callbacks while the first was running", n)
	}
}
