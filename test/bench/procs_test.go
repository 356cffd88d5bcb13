//go:build bench

package bench

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/pkg/gossip"
	"github.com/understudy/understudy/test/rig"
)

const (
	adminToken = "bench-admin"
	agentToken = "bench-agent"
)

// coordBin is the understudy-coordinator binary built by TestMain.
var coordBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "understudy-bench-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	coordBin = filepath.Join(dir, "understudy-coordinator")
	cmd := exec.Command("go", "build", "-trimpath", "-o", coordBin, "./coordinator")
	cmd.Dir = "../.."
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "build understudy-coordinator: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	fmt.Println(machine())
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// machine describes what the figures were measured on.
func machine() string {
	model, mem := "unknown CPU", "unknown memory"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if f := strings.Fields(line); len(f) == 3 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					mem = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
				}
			}
		}
	}
	return fmt.Sprintf("Machine: %s, %d cores, %s memory, %s/%s, %s; data in %s.",
		model, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH, runtime.Version(), os.TempDir())
}

var reStarting = regexp.MustCompile(`msg="coordinator starting".* http=(\S+) dns=(\S+) raft=(\S+) gossip=(\S+)`)

// coordProc is one understudy-coordinator serve process.
type coordProc struct {
	*rig.Proc
	dataDir string

	http, gossip string // bound addresses, from the start log line
}

// procCluster is three coordinator processes that bootstrapped together.
type procCluster struct {
	t       *testing.T
	profile string
	procs   []*coordProc
}

// startProcCluster starts three coordinators with the gossip profile
// ("fast" or "lan") and waits until they agree on a leader.
func startProcCluster(t *testing.T, profile string) *procCluster {
	t.Helper()
	key, err := gossip.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	c := &procCluster{t: t, profile: profile}
	for i := range 3 {
		var join []string
		if i > 0 {
			join = []string{c.procs[0].gossip}
		}
		c.start(fmt.Sprintf("coord-%d", i+1), key, join)
	}
	c.leader(30 * time.Second)
	return c
}

// start starts one coordinator (killed, and its log shown if the test
// failed, at the test's cleanup), adds it to c and waits for it to log its
// bound addresses.
func (c *procCluster) start(name, key string, join []string) {
	c.t.Helper()
	dir := c.t.TempDir()
	j := ""
	if len(join) > 0 {
		j = fmt.Sprintf("retry_join: [%s]\n", strings.Join(join, ", "))
	}
	cfg := fmt.Sprintf(`node_name: %s
data_dir: %s
bind_addr: 127.0.0.1
ports: {raft: 0, gossip: 0, http: 0, dns: 0, login: 0}
bootstrap_expect: 3
%sencrypt: %q
acl: {admin_token: %s, agent_token: %s}
gossip_profile: %s
log_level: info
`, name, dir, j, key, adminToken, agentToken, c.profile)
	path := filepath.Join(dir, "coordinator.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		c.t.Fatal(err)
	}
	p := &coordProc{Proc: rig.StartProc(c.t, name, 0, coordBin, "serve", "--config", path), dataDir: dir}
	c.procs = append(c.procs, p)
	var m []string
	poll(c.t, 20*time.Second, name+" to log its addresses", func() bool {
		for _, l := range p.Lines() {
			if m = reStarting.FindStringSubmatch(l); m != nil {
				return true
			}
		}
		return false
	})
	p.http, p.gossip = m[1], m[4]
}

func (p *coordProc) client(token string) *api.Client { return api.NewClient(p.http, token) }

// killAll SIGKILLs every coordinator that is still running.
func (c *procCluster) killAll() {
	for _, p := range c.procs {
		p.Kill()
	}
}

// leader waits until every live coordinator names the same leader and
// returns its index.
func (c *procCluster) leader(d time.Duration) int {
	c.t.Helper()
	idx := -1
	poll(c.t, d, "the coordinators to agree on a leader", func() bool {
		id := ""
		for _, p := range c.procs {
			if p.Exited() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			l, err := p.client("").Leader(ctx)
			cancel()
			if err != nil || l.ID == "" || (id != "" && l.ID != id) {
				return false
			}
			id = l.ID
		}
		idx = c.index(id)
		return idx >= 0
	})
	return idx
}

func (c *procCluster) index(name string) int {
	for i, p := range c.procs {
		if p.Name == name {
			return i
		}
	}
	return -1
}

// follower returns the index of a live coordinator other than leader.
func (c *procCluster) follower(leader int) int {
	for i, p := range c.procs {
		if i != leader && !p.Exited() {
			return i
		}
	}
	c.t.Fatal("no live follower")
	return -1
}

// procMemory is what /proc/PID/status says of a process's memory.
type procMemory struct {
	RSS, HWM int64 // VmRSS and VmHWM in bytes
}

func readProcMemory(pid int) (procMemory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMemory{}, err
	}
	var m procMemory
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 3 || f[2] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return procMemory{}, fmt.Errorf("/proc/%d/status: %q: %w", pid, line, err)
		}
		switch f[0] {
		case "VmRSS:":
			m.RSS = n << 10
		case "VmHWM:":
			m.HWM = n << 10
		}
	}
	if m.RSS == 0 || m.HWM == 0 {
		return procMemory{}, fmt.Errorf("/proc/%d/status: no VmRSS or VmHWM", pid)
	}
	return m, nil
}

// dirSize returns the apparent size of the regular files under dir and the
// space they take on disk.
func dirSize(dir string) (apparent, disk int64, err error) {
	err = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		apparent += fi.Size()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			disk += st.Blocks * 512
		}
		return nil
	})
	return apparent, disk, err
}

// poll checks cond every 10 ms until it holds, and fails the test when d
// passes first.
func poll(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
