//go:build bench

package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/understudy/understudy/pkg/gossip"
)

// This file holds what the DNS and failure-detection measurements
// (make bench-dns, make bench-detect) share: coordinators whose DNS address
// is known, agent processes each on a loopback address of its own, and a
// DNS query helper. Those measurements run only when UNDERSTUDY_BENCH_DNS=1
// (the make targets set it), so that make bench-coordinator does not run
// them.

func needDNSBench(t *testing.T) {
	t.Helper()
	if os.Getenv("UNDERSTUDY_BENCH_DNS") != "1" {
		t.Skip("DNS and detection measurements run with UNDERSTUDY_BENCH_DNS=1 (make bench-dns, make bench-detect)")
	}
}

var (
	agentOnce sync.Once
	agentBin  string
	agentErr  error
)

// buildAgent builds understudy-agent once, next to the coordinator.
func buildAgent(t *testing.T) string {
	t.Helper()
	agentOnce.Do(func() {
		agentBin = filepath.Join(filepath.Dir(coordBin), "understudy-agent")
		cmd := exec.Command("go", "build", "-trimpath", "-o", agentBin, "./agent")
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			agentErr = fmt.Errorf("build understudy-agent: %v\n%s", err, out)
		}
	})
	if agentErr != nil {
		t.Fatal(agentErr)
	}
	return agentBin
}

// daemon is a coordinator or agent process whose stderr is kept.
type daemon struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}

	mu    sync.Mutex // guards lines
	lines []string
}

func startDaemon(t *testing.T, name, path string, args ...string) *daemon {
	t.Helper()
	d := &daemon{name: name, cmd: exec.Command(path, args...), done: make(chan struct{})}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stdout = io.Discard
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			d.mu.Lock()
			d.lines = append(d.lines, sc.Text())
			d.mu.Unlock()
		}
		d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.kill()
		if t.Failed() {
			d.mu.Lock()
			t.Logf("%s log:\n%s", name, strings.Join(d.lines, "\n"))
			d.mu.Unlock()
		}
	})
	return d
}

// kill sends SIGKILL and waits for the process to be gone.
func (d *daemon) kill() {
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// find waits for a log line matching re and returns its groups.
func (d *daemon) find(t *testing.T, re *regexp.Regexp, limit time.Duration) []string {
	t.Helper()
	var m []string
	poll(t, limit, d.name+" to log "+re.String(), func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, l := range d.lines {
			if m = re.FindStringSubmatch(l); m != nil {
				return true
			}
		}
		return false
	})
	return m
}

// lineTime returns the time= attribute of the first log line containing
// every one of subs.
func (d *daemon) lineTime(subs ...string) (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
next:
	for _, l := range d.lines {
		for _, s := range subs {
			if !strings.Contains(l, s) {
				continue next
			}
		}
		if m := reTime.FindStringSubmatch(l); m != nil {
			if at, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
				return at, true
			}
		}
	}
	return time.Time{}, false
}

var reTime = regexp.MustCompile(`^time=(\S+)`)

// dnsCoord is a coordinator process with its bound addresses.
type dnsCoord struct {
	*daemon
	http, dns, gossip string
}

// dnsCluster is n coordinators (1 or 3) with one gossip profile, and the
// agents started on them.
type dnsCluster struct {
	t       *testing.T
	profile string
	key     string
	coords  []*dnsCoord
}

func startDNSCluster(t *testing.T, n int, profile string) *dnsCluster {
	t.Helper()
	key, err := gossip.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	c := &dnsCluster{t: t, profile: profile, key: key}
	for i := range n {
		name := fmt.Sprintf("coord-%d", i+1)
		dir := t.TempDir()
		join := ""
		if i > 0 {
			join = fmt.Sprintf("retry_join: [%s]\n", c.coords[0].gossip)
		}
		cfg := fmt.Sprintf(`node_name: %s
data_dir: %s
bind_addr: 127.0.0.1
ports: {raft: 0, gossip: 0, http: 0, dns: 0, login: 0}
bootstrap_expect: %d
%sencrypt: %q
acl: {admin_token: %s, agent_token: %s}
gossip_profile: %s
log_level: info
`, name, dir, n, join, key, adminToken, agentToken, profile)
		path := filepath.Join(dir, "coordinator.yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		d := startDaemon(t, name, coordBin, "serve", "--config", path)
		m := d.find(t, reStarting, 20*time.Second)
		c.coords = append(c.coords, &dnsCoord{daemon: d, http: m[1], dns: m[2], gossip: m[4]})
	}
	return c
}

func (c *dnsCluster) dnsAddrs() []string {
	var out []string
	for _, p := range c.coords {
		out = append(out, p.dns)
	}
	return out
}

var hostSeq atomic.Uint32

// hostIP returns a loopback address of its own for the next agent host,
// derived from the process id so that concurrent runs do not collide.
func hostIP() string {
	pid := os.Getpid()
	n := hostSeq.Add(1)
	return fmt.Sprintf("127.%d.%d.%d", 1+(pid>>8)%250, pid%256, 1+n%250)
}

// agentHost is an agent process on its own loopback address.
type agentHost struct {
	*daemon
	ip string
}

// startHost starts an agent named name with role on a fresh loopback
// address, registering plain services (no check: passing while the host
// is alive) on port 8002.
func (c *dnsCluster) startHost(name, role string, services ...string) *agentHost {
	t := c.t
	t.Helper()
	ip := hostIP()
	dir := t.TempDir()
	var joins, svc []string
	for _, p := range c.coords {
		joins = append(joins, p.gossip)
	}
	for _, s := range services {
		svc = append(svc, fmt.Sprintf("  - {name: %s, grid: bench, port: 8002}\n", s))
	}
	cfg := fmt.Sprintf(`node_name: %s
data_dir: %s
role: %s
bind_addr: %s
ports: {gossip: 0, http: 0}
retry_join: [%s]
encrypt: %q
token: %s
gossip_profile: %s
log_level: info
services:
%s`, name, dir, role, ip, strings.Join(joins, ", "), c.key, agentToken, c.profile, strings.Join(svc, ""))
	path := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &agentHost{daemon: startDaemon(t, name, buildAgent(t), "run", "--config", path), ip: ip}
}

// queryA returns the A records of name on server, in order, joined by
// commas.
func queryA(server, name string) (string, error) {
	m := new(mdns.Msg)
	m.SetQuestion(name, mdns.TypeA)
	r, _, err := (&mdns.Client{Timeout: time.Second}).Exchange(m, server)
	if err != nil {
		return "", err
	}
	if r.Rcode != mdns.RcodeSuccess {
		return "", fmt.Errorf("rcode %s", mdns.RcodeToString[r.Rcode])
	}
	var a []string
	for _, rr := range r.Answer {
		if rec, ok := rr.(*mdns.A); ok {
			a = append(a, rec.A.String())
		}
	}
	return strings.Join(a, ","), nil
}

// allAnswer reports whether every server answers name with want.
func allAnswer(servers []string, name, want string) bool {
	for _, s := range servers {
		if a, err := queryA(s, name); err != nil || a != want {
			return false
		}
	}
	return true
}
