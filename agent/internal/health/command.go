package health

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// commandWaitDelay bounds how long a probe waits, after the command exits
// or is killed, for its output pipe to close. A process that left the
// command's group (setsid) could otherwise hold it open forever.
const commandWaitDelay = 250 * time.Millisecond

func newCommandProbe(argv []string) probeFunc {
	return func(ctx context.Context) result {
		return commandProbe(ctx, argv)
	}
}

func commandProbe(ctx context.Context, argv []string) result {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// The command leads its own process group, so that at the timeout
	// its children (a shell's pipeline, a plugin's helpers) die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = commandWaitDelay
	var out boundedBuffer
	cmd.Stdout = &out
	cmd.Stderr = &out

	err := cmd.Run()
	state := cmd.ProcessState
	if state == nil {
		// The command did not start: not found, not executable.
		return result{Critical, fmt.Sprintf("command %s: %v", argv[0], err)}
	}
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ctx.Err() != nil {
		reason := "cancelled"
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			reason = "timed out"
		}
		return result{Critical, withOutput(fmt.Sprintf("command %s: %s, process group killed", argv[0], reason), &out)}
	}
	// The exit status decides, even if a leftover child kept the output
	// open past commandWaitDelay (err is then exec.ErrWaitDelay).
	head := fmt.Sprintf("command %s: %s", argv[0], state)
	switch state.ExitCode() {
	case 0:
		return result{Passing, withOutput(head, &out)}
	case 1:
		return result{Warning, withOutput(head, &out)}
	default:
		return result{Critical, withOutput(head, &out)}
	}
}

func withOutput(head string, out *boundedBuffer) string {
	if s := out.String(); s != "" {
		return head + "\n" + s
	}
	return head
}
