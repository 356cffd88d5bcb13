package promote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Controller starts and stops one service's process. Start and Stop are
// called from one goroutine at a time. Running reports whether the process
// is up (for a supervised process, whether it is still alive).
type Controller interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Running() bool
}

// Commands is a Controller that runs a start and a stop command, as for a
// service managed by systemd ("systemctl start robust"). Until it has run
// one of them it does not know whether the service runs (the agent may
// have restarted under a running service), so it reports the service as
// running and unsettled: the manager then runs start or stop once, both
// of which must be idempotent.
type Commands struct {
	StartArgv []string
	StopArgv  []string

	mu      sync.Mutex // guards running and settled
	running bool
	settled bool
}

// Start runs the start command and waits for it.
func (c *Commands) Start(ctx context.Context) error {
	if err := runCommand(ctx, c.StartArgv); err != nil {
		return err
	}
	c.mu.Lock()
	c.running, c.settled = true, true
	c.mu.Unlock()
	return nil
}

// Stop runs the stop command and waits for it.
func (c *Commands) Stop(ctx context.Context) error {
	if err := runCommand(ctx, c.StopArgv); err != nil {
		return err
	}
	c.mu.Lock()
	c.running, c.settled = false, true
	c.mu.Unlock()
	return nil
}

// Running reports whether the last command run was a successful start;
// before any, it reports true (see [Commands]).
func (c *Commands) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running || !c.settled
}

// Settled reports whether a start or stop command has succeeded yet.
func (c *Commands) Settled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.settled
}

// settler is implemented by controllers that cannot tell whether the
// service runs until they have started or stopped it once.
type settler interface{ Settled() bool }

func runCommand(ctx context.Context, argv []string) error {
	if len(argv) == 0 {
		return nil
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Run(); err != nil {
		msg := bytes.TrimSpace(out.Bytes())
		if len(msg) > 256 {
			msg = msg[:256]
		}
		return fmt.Errorf("%s: %w: %s", argv[0], err, msg)
	}
	return nil
}

// Process is a Controller that runs the service itself as a child process
// in its own process group: Start spawns it, Stop sends SIGTERM to the group
// and SIGKILL after StopTimeout.
type Process struct {
	Argv        []string
	Dir         string
	StopTimeout time.Duration

	mu   sync.Mutex // guards cmd and done
	cmd  *exec.Cmd
	done chan struct{}
}

// Start spawns the process unless it is already running.
func (p *Process) Start(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !closed(p.done) {
		return nil
	}
	if len(p.Argv) == 0 {
		return errors.New("no command to run")
	}
	cmd := exec.Command(p.Argv[0], p.Argv[1:]...)
	cmd.Dir = p.Dir
	// The agent holds the lease: if it dies, so does the service.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	return nil
}

// Stop terminates the process group and waits for the process to exit.
func (p *Process) Stop(ctx context.Context) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || closed(done) {
		return nil
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	timeout := p.StopTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	select {
	case <-done:
	case <-time.After(timeout):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	// Reap anything else left in the group.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	return nil
}

// Kill ends the process group with SIGKILL at once and waits for the
// process. It is how a service that lost its lease is stopped: a SIGTERM
// would only be acted on by a process that is running, and one that was
// frozen with its host must not answer a single request after it wakes.
func (p *Process) Kill(context.Context) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || closed(done) {
		return nil
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
	return nil
}

// killer is implemented by controllers that can end a service at once
// rather than gracefully.
type killer interface {
	Kill(ctx context.Context) error
}

// Running reports whether the process is alive.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !closed(p.done)
}

func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
