package rig

import (
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

func TestChildrenAndAlive(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	pid := cmd.Process.Pid
	if got := Children(os.Getpid()); !slices.Contains(got, pid) {
		t.Errorf("Children(test process) = %v, want it to include the child %d", got, pid)
	}
	if ppid, ok := parent(pid); !ok || ppid != os.Getpid() {
		t.Errorf("parent(%d) = %d, %v; want %d", pid, ppid, ok, os.Getpid())
	}
	if !Alive(pid) {
		t.Errorf("Alive(%d) = false for a running child", pid)
	}
	cmd.Process.Kill()
	cmd.Wait()
	Eventually(t, 5*time.Second, "the child to be gone", func() bool { return !Alive(pid) })
}
