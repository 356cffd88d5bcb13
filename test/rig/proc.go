package rig

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binaries are the paths of the programs a rig runs.
type Binaries struct {
	Coordinator string
	Agent       string
	Gridlogin   string
}

// Build builds the two daemons and the stand-in login service from the
// module at root into dir.
func Build(root, dir string) (Binaries, error) {
	b := Binaries{
		Coordinator: filepath.Join(dir, "understudy-coordinator"),
		Agent:       filepath.Join(dir, "understudy-agent"),
		Gridlogin:   filepath.Join(dir, "gridlogin"),
	}
	for out, pkg := range map[string]string{b.Coordinator: "./coordinator", b.Agent: "./agent", b.Gridlogin: "./test/gridlogin/cmd/gridlogin"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = root
		if msg, err := cmd.CombinedOutput(); err != nil {
			return Binaries{}, fmt.Errorf("build %s: %v\n%s", pkg, err, msg)
		}
	}
	return b, nil
}

// Proc is a running program whose stderr is kept line by line.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}

	mu    sync.Mutex // guards lines
	lines []string
}

// StartProc starts path with args under group id gid (0 keeps the test's
// own, and so does a test not running as root, which cannot change it).
// Its stderr is kept for Lines and logged through t when the test fails;
// it is SIGKILLed at cleanup.
func StartProc(t testing.TB, name string, gid int, path string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Name: name, cmd: exec.Command(path, args...), done: make(chan struct{})}
	if gid != 0 && os.Geteuid() == 0 {
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(gid), NoSetGroups: true}}
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = io.Discard
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, strings.Join(p.Lines(), "\n"))
		}
	})
	return p
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill sends SIGKILL (which also ends a stopped process) and waits for the
// process to go. It is idempotent.
func (p *Proc) Kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to d for the process to exit.
func (p *Proc) Stop(d time.Duration) error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(d):
		return fmt.Errorf("%s did not exit within %v of SIGTERM", p.Name, d)
	}
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Lines returns a copy of the stderr lines so far.
func (p *Proc) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// Grep returns the lines that contain every one of subs.
func (p *Proc) Grep(subs ...string) []string {
	var out []string
	for _, l := range p.Lines() {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// Field waits up to d for a line matching re and returns its first group.
func (p *Proc) Field(t testing.TB, re *regexp.Regexp, d time.Duration) string {
	t.Helper()
	var out string
	Eventually(t, d, p.Name+" to log "+re.String(), func() bool {
		for _, l := range p.Lines() {
			if m := re.FindStringSubmatch(l); m != nil {
				out = m[1]
				return true
			}
		}
		return false
	})
	return out
}

// Eventually polls cond every 20ms until it holds, failing t after d.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Children returns the ids of the processes whose parent is pid, read from
// the process table.
func Children(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parent(child); ok && ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// parent reads a process's parent id from /proc/PID/stat.
func parent(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

// Alive reports whether a process with id pid exists and is not a zombie.
func Alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && !strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}
