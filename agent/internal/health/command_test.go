package health

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCommandProbeExitStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		argv   []string
		want   Status
		output string
	}{
		{argv: []string{"sh", "-c", "exit 0"}, want: Passing, output: "exit status 0"},
		{argv: []string{"sh", "-c", "echo all good; exit 0"}, want: Passing, output: "exit status 0\nall good"},
		{argv: []string{"sh", "-c", "echo slow queries >&2; exit 1"}, want: Warning, output: "exit status 1\nslow queries"},
		{argv: []string{"sh", "-c", "exit 2"}, want: Critical, output: "exit status 2"},
		{argv: []string{"sh", "-c", "exit 3"}, want: Critical, output: "exit status 3"},
		{argv: []string{"sh", "-c", "exit 255"}, want: Critical, output: "exit status 255"},
		{argv: []string{"sh", "-c", "kill -TERM $$"}, want: Critical, output: "signal: terminated"},
		{argv: []string{"/nonexistent/understudy-check"}, want: Critical, output: "no such file or directory"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.argv, " "), func(t *testing.T) {
			t.Parallel()
			res := probeOnce(t, newCommandProbe(tc.argv), probeTimeout)
			if res.status != tc.want || !strings.Contains(res.output, tc.output) {
				t.Errorf("got %s %q, want %s with %q", res.status, res.output, tc.want, tc.output)
			}
		})
	}
}

func TestCommandProbeOutputBounded(t *testing.T) {
	t.Parallel()
	// 1 MB on stdout and stderr: the probe keeps the start and drains the
	// rest, so the command is not blocked on a full pipe.
	argv := []string{"sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' x; head -c 1000000 /dev/zero | tr '\\0' y >&2; exit 1"}
	res := probeOnce(t, newCommandProbe(argv), probeTimeout)
	if res.status != Warning {
		t.Fatalf("got %s %q, want warning", res.status, res.output)
	}
	if len(res.output) > maxOutput+100 || !strings.HasSuffix(res.output, "xxx…") {
		t.Errorf("output of %d bytes ending %q, want about %d ending in x…", len(res.output), res.output[max(0, len(res.output)-10):], maxOutput)
	}
}

// TestCommandProbeTimeout runs a command that hangs, with a child, past the
// timeout: both must be killed and the check critical.
func TestCommandProbeTimeout(t *testing.T) {
	t.Parallel()
	argv := []string{"sh", "-c", "sleep 600 & echo $$ $!; wait"}
	res := probeOnce(t, newCommandProbe(argv), 300*time.Millisecond)
	if res.status != Critical || !strings.Contains(res.output, "timed out, process group killed") {
		t.Fatalf("got %s %q, want critical, timed out", res.status, res.output)
	}
	pids := parsePids(t, res.output)
	if len(pids) != 2 {
		t.Fatalf("output %q: want the shell's and the sleep's pids", res.output)
	}
	for _, pid := range pids {
		waitGone(t, pid)
	}
}

// TestCommandProbeLeftoverChild runs a command that exits 0 but leaves a
// child holding its output open: the exit status decides, and the probe
// returns without waiting for the child.
func TestCommandProbeLeftoverChild(t *testing.T) {
	t.Parallel()
	argv := []string{"sh", "-c", "sleep 600 & echo $!; exit 0"}
	res := probeOnce(t, newCommandProbe(argv), probeTimeout)
	pids := parsePids(t, res.output)
	for _, pid := range pids {
		t.Cleanup(func() {
			syscall.Kill(pid, syscall.SIGKILL)
			waitGone(t, pid)
		})
	}
	if res.status != Passing || len(pids) != 1 {
		t.Fatalf("got %s %q, want passing with the child's pid", res.status, res.output)
	}
}

// parsePids reads the numbers on the first output line after the probe's
// own summary line.
func parsePids(t *testing.T, output string) []int {
	t.Helper()
	lines := strings.Split(output, "\n")
	if len(lines) < 2 {
		return nil
	}
	var pids []int
	for f := range strings.FieldsSeq(lines[1]) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("output %q: %v", output, err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// waitGone polls until process pid no longer runs: it is gone, or a zombie
// waiting for a reaper that is not ours (a container's PID 1 may not reap).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		state, err := procState(pid)
		if err != nil || state == 'Z' || state == 'X' {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still running (state %c)", pid, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func procState(pid int) (byte, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The state follows the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, errors.New("malformed /proc stat")
	}
	return b[i+2], nil
}
