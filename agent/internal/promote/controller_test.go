package promote

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestProcessStartStop(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	// The service forks a child of its own: Stop must end the whole group.
	p := &Process{Argv: []string{"sh", "-c", "sleep 60 & echo $! > " + pidFile + "; wait"}, StopTimeout: 2 * time.Second}
	if p.Running() {
		t.Fatal("running before start")
	}
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(t.Context()); err != nil || !p.Running() {
		t.Fatalf("second start: %v, running %v", err, p.Running())
	}
	var child int
	waitFor(t, "the child's pid", func() bool {
		b, err := os.ReadFile(pidFile)
		child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && child > 0
	})
	if err := p.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if p.Running() {
		t.Fatal("running after stop")
	}
	waitFor(t, "the grandchild to go", func() bool { return !alive(child) })
	// A service that exits on its own is seen as not running.
	q := &Process{Argv: []string{"true"}}
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the process to exit", func() bool { return !q.Running() })
}

func TestProcessStopEscalatesToKill(t *testing.T) {
	p := &Process{Argv: []string{"sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"}, StopTimeout: 200 * time.Millisecond}
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := p.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if p.Running() {
		t.Fatal("a process ignoring SIGTERM survived Stop")
	}
	t.Logf("stopped after %v", time.Since(start))
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "running")
	c := &Commands{StartArgv: []string{"touch", flag}, StopArgv: []string{"rm", "-f", flag}}
	// Before any command the state is unknown: reported running, unsettled.
	if !c.Running() || c.Settled() {
		t.Fatal("fresh Commands should be unsettled and count as running")
	}
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(flag); err != nil || !c.Running() || !c.Settled() {
		t.Fatalf("after start: %v running=%v", err, c.Running())
	}
	if err := c.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(flag); !os.IsNotExist(err) || c.Running() {
		t.Fatalf("after stop: %v running=%v", err, c.Running())
	}
	bad := &Commands{StartArgv: []string{"sh", "-c", "echo cannot start >&2; exit 3"}}
	if err := bad.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "cannot start") {
		t.Fatalf("failing start = %v, want its output in the error", err)
	}
}

func TestProcessKillIsImmediate(t *testing.T) {
	// A stopped (frozen) process acts on SIGTERM only when it wakes; Kill
	// must not wait for that.
	p := &Process{Argv: []string{"sleep", "60"}, StopTimeout: time.Minute}
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	pid := p.cmd.Process.Pid
	p.mu.Unlock()
	syscall.Kill(pid, syscall.SIGSTOP)
	done := make(chan error, 1)
	go func() { done <- p.Kill(t.Context()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Kill waited for a frozen process")
	}
	if p.Running() || alive(pid) {
		t.Fatal("process survived Kill")
	}
}
