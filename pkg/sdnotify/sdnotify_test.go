package sdnotify_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/pkg/sdnotify"
)

// listen creates a unixgram socket, points NOTIFY_SOCKET at it and returns a
// function that reads the next message, failing the test after a deadline.
func listen(t *testing.T) (next func() string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "")
	t.Setenv("WATCHDOG_PID", "")
	return func() string {
		t.Helper()
		buf := make([]byte, 4096)
		if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(buf[:n])
	}
}

// waitFor reads messages until want arrives, skipping watchdog pings.
func waitFor(t *testing.T, next func() string, want string) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		got := next()
		if got == want {
			return
		}
		if got != "WATCHDOG=1" {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	t.Fatalf("%q never arrived", want)
}

func TestStates(t *testing.T) {
	next := listen(t)
	for _, tc := range []struct {
		name string
		send func() error
		want string
	}{
		{"ready", sdnotify.Ready, "READY=1"},
		{"stopping", sdnotify.Stopping, "STOPPING=1"},
		{"status", func() error { return sdnotify.Status("joined\npool") }, "STATUS=joined pool"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.send(); err != nil {
				t.Fatal(err)
			}
			if got := next(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReloadingCarriesMonotonicTime(t *testing.T) {
	next := listen(t)
	if err := sdnotify.Reloading(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(next(), "\n")
	if len(lines) != 2 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") {
		t.Fatalf("got %q, want RELOADING=1 and MONOTONIC_USEC", lines)
	}
	if usec, err := strconv.ParseUint(strings.TrimPrefix(lines[1], "MONOTONIC_USEC="), 10, 64); err != nil || usec == 0 {
		t.Errorf("MONOTONIC_USEC = %q, want a positive integer", lines[1])
	}
}

func TestNoSocketIsNoOp(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "1000")
	for name, f := range map[string]func() error{
		"ready": sdnotify.Ready, "stopping": sdnotify.Stopping, "reloading": sdnotify.Reloading,
		"status": func() error { return sdnotify.Status("x") },
	} {
		if err := f(); err != nil {
			t.Errorf("%s without NOTIFY_SOCKET: %v", name, err)
		}
	}
}

func TestSocketGoneIsAnError(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "missing.sock"))
	if err := sdnotify.Ready(); err == nil {
		t.Error("Ready to a missing socket: no error")
	}
}

func TestWatchdogPings(t *testing.T) {
	next := listen(t)
	t.Setenv("WATCHDOG_USEC", "20000") // pings every 10ms
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	if d, err := sdnotify.WatchdogInterval(); err != nil || d != 20*time.Millisecond {
		t.Fatalf("WatchdogInterval() = %v, %v; want 20ms", d, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- sdnotify.Watchdog(ctx) }()
	for range 3 {
		if got := next(); got != "WATCHDOG=1" {
			t.Fatalf("got %q, want WATCHDOG=1", got)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watchdog after cancel: %v", err)
	}
}

func TestWatchdogReturnsAtOnceWithoutTimeout(t *testing.T) {
	for _, tc := range []struct{ name, usec, pid string }{
		{"unset", "", ""},
		{"another process", "20000", strconv.Itoa(os.Getpid() + 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			listen(t)
			t.Setenv("WATCHDOG_USEC", tc.usec)
			t.Setenv("WATCHDOG_PID", tc.pid)
			// t.Context lives until the test ends: returning proves
			// Watchdog did not wait for it.
			if err := sdnotify.Watchdog(t.Context()); err != nil {
				t.Errorf("Watchdog: %v", err)
			}
		})
	}
}

func TestWatchdogBadTimeout(t *testing.T) {
	listen(t)
	t.Setenv("WATCHDOG_USEC", "soon")
	if err := sdnotify.Watchdog(t.Context()); err == nil {
		t.Error("Watchdog with WATCHDOG_USEC=soon: no error")
	}
}

func TestSupervise(t *testing.T) {
	next := listen(t)
	t.Setenv("WATCHDOG_USEC", "20000")
	logger := slog.New(slog.NewTextHandler(tWriter{t}, nil))

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		errRun := errors.New("stopped")
		done := make(chan error, 1)
		go func() {
			done <- sdnotify.Supervise(ctx, logger, func(ctx context.Context) error {
				<-ctx.Done()
				return errRun
			})
		}()
		waitFor(t, next, "READY=1")
		waitFor(t, next, "WATCHDOG=1")
		waitFor(t, next, "WATCHDOG=1")
		cancel()
		waitFor(t, next, "STOPPING=1")
		if err := <-done; !errors.Is(err, errRun) {
			t.Errorf("Supervise = %v, want run's error", err)
		}
	})

	t.Run("run fails on its own", func(t *testing.T) {
		errRun := errors.New("corrupt data dir")
		err := sdnotify.Supervise(t.Context(), logger, func(context.Context) error { return errRun })
		if !errors.Is(err, errRun) {
			t.Errorf("Supervise = %v, want run's error", err)
		}
		// The READY=1 of this run may be followed by pings, but no
		// STOPPING=1: the context was never cancelled. Supervise has
		// returned, so everything it sent is already queued.
		waitFor(t, next, "READY=1")
		if err := sdnotify.Status("end"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, next, "STATUS=end")
	})
}

// tWriter sends log lines to t.Log.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
