//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/understudy/understudy/pkg/gossip"
)

// This file holds the helpers of the health, DNS and resolver tests: a
// three-coordinator cluster with a chosen gossip profile, agent hosts each on
// its own loopback address, the gridlogin service as a supervised process,
// and a continuous DNS probe.

var (
	gridloginOnce sync.Once
	gridloginErr  error
)

// gridloginBin builds the stand-in login service once per run, next to the
// daemons TestMain built.
func gridloginBin(t *testing.T) string {
	t.Helper()
	path := bin("gridlogin")
	gridloginOnce.Do(func() {
		cmd := exec.Command("go", "build", "-o", path, "./test/gridlogin/cmd/gridlogin")
		cmd.Dir = "../.."
		out, err := cmd.CombinedOutput()
		if err != nil {
			gridloginErr = fmt.Errorf("build gridlogin: %v\n%s", err, out)
		}
	})
	if gridloginErr != nil {
		t.Fatal(gridloginErr)
	}
	return path
}

var hostSeq atomic.Uint32

// hostIP returns a loopback address of its own for the next agent host:
// 127.X.Y.Z with X and Y derived from the test process id, so that
// concurrent runs do not share addresses and DNS answers tell hosts apart.
func hostIP() string {
	pid := os.Getpid()
	n := hostSeq.Add(1)
	return fmt.Sprintf("127.%d.%d.%d", 1+(pid>>8)%250, pid%256, 1+n%250)
}

// clusterSpec describes a three-coordinator cluster.
type clusterSpec struct {
	profile string // gossip_profile of coordinators and agents
	// extra is YAML appended to every coordinator's configuration.
	extra string
}

// cluster is three coordinator processes and the agents started on them.
type cluster struct {
	t      *testing.T
	spec   clusterSpec
	key    string
	coords []*coordProc
}

func coordConfig(name, dir, key, profile, extra string, join []string) string {
	j := ""
	if len(join) > 0 {
		j = fmt.Sprintf("retry_join: [%s]\n", strings.Join(join, ", "))
	}
	return fmt.Sprintf(`node_name: %s
data_dir: %s
bind_addr: 127.0.0.1
ports: {raft: 0, gossip: 0, http: 0, dns: 0, login: 0}
bootstrap_expect: 3
%sencrypt: %q
acl: {admin_token: admin-secret, agent_token: agent-secret}
gossip_profile: %s
log_level: info
%s`, name, dir, j, key, profile, extra)
}

// startCluster starts three coordinators and waits until each answers DNS
// for its zone's SOA (so Raft has a leader and the catalogue is replicated).
func startCluster(t *testing.T, spec clusterSpec) *cluster {
	t.Helper()
	key, err := gossip.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, spec: spec, key: key}
	for i := range 3 {
		name := fmt.Sprintf("coord-%d", i+1)
		var join []string
		if i > 0 {
			join = []string{c.coords[0].gossip}
		}
		dir := t.TempDir()
		cfg := writeFile(t, dir, "coordinator.yaml", coordConfig(name, dir, key, spec.profile, spec.extra, join))
		p := start(t, name, "understudy-coordinator", "serve", "--config", cfg)
		c.coords = append(c.coords, &coordProc{proc: p,
			http:   p.field(reHTTP, 20*time.Second),
			dns:    p.field(reDNS, 20*time.Second),
			gossip: p.field(reGossip, 20*time.Second),
		})
	}
	return c
}

func (c *cluster) gossipAddrs() []string {
	var out []string
	for _, p := range c.coords {
		out = append(out, p.gossip)
	}
	return out
}

func (c *cluster) dnsAddrs() []string {
	var out []string
	for _, p := range c.coords {
		out = append(out, p.dns)
	}
	return out
}

// host is one agent process on its own loopback address.
type host struct {
	*proc
	ip  string
	dir string
}

// hostSpec describes an agent host.
type hostSpec struct {
	name string
	role string // active or standby
	// services is the YAML list under services:, written with the
	// placeholders {IP} (the host's address), {DIR} (its data directory) and
	// {GRIDLOGIN} (the gridlogin binary).
	services string
	// setup, if set, prepares the data directory before the agent starts.
	setup func(dir string)
}

// startHost starts an agent on a fresh loopback address, joined to c.
func (c *cluster) startHost(spec hostSpec) *host {
	t := c.t
	t.Helper()
	h := &host{ip: hostIP(), dir: t.TempDir()}
	if spec.setup != nil {
		spec.setup(h.dir)
	}
	svc := strings.NewReplacer("{IP}", h.ip, "{DIR}", h.dir, "{GRIDLOGIN}", gridloginBin(t)).Replace(spec.services)
	cfg := writeFile(t, h.dir, "agent.yaml", fmt.Sprintf(`node_name: %s
data_dir: %s
role: %s
bind_addr: %s
ports: {gossip: 0, http: 0}
retry_join: [%s]
encrypt: %q
token: agent-secret
gossip_profile: %s
log_level: info
services:
%s`, spec.name, h.dir, spec.role, h.ip, strings.Join(c.gossipAddrs(), ", "), c.key, c.spec.profile, svc))
	h.proc = start(t, spec.name, "understudy-agent", "run", "--config", cfg)
	return h
}

// loginService is a gridlogin process supervised by the agent, with an HTTP
// check on get_grid_info, running on standbys too.
const loginService = `  - name: login
    grid: osgrid
    port: 8002
    standby: hot
    run: [{GRIDLOGIN}, --addr, "{IP}:8002", --data-dir, "{DIR}", --grid, osgrid, --instance, "{IP}"]
    check: {http: "http://{IP}:8002/get_grid_info", interval: 500ms, timeout: 400ms,
            failures_before_critical: 2, successes_before_passing: 2}
`

// answer is the A records of name on one DNS server, in order, joined by
// commas; failures are reported as errors.
func answer(addr, name string) (string, error) {
	m := new(mdns.Msg)
	m.SetQuestion(name, mdns.TypeA)
	// Two seconds, as a stub resolver's retry would allow: the machine the
	// tests run on is small and shared, and a query that is slow but answered
	// is not a failure.
	r, _, err := (&mdns.Client{Timeout: 2 * time.Second}).Exchange(m, addr)
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

// waitAnswer waits until every server answers name with exactly want (in
// order) and returns how long that took.
func waitAnswer(t *testing.T, servers []string, name string, want []string, d time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	w := strings.Join(want, ",")
	got := make([]string, len(servers))
	eventually(t, d, fmt.Sprintf("%s = %s on %v (last %q)", name, w, servers, got), func() bool {
		for i, s := range servers {
			a, err := answer(s, name)
			got[i] = a
			if err != nil || a != w {
				return false
			}
		}
		return true
	})
	return time.Since(begin)
}

// probe queries one DNS server in a loop and records every change of the
// answer and every failed query.
type probe struct {
	addr, name string
	stop, done chan struct{}

	mu       sync.Mutex // guards the fields below
	queries  int
	failures []string
	answers  []change
}

type change struct {
	at     time.Time
	answer string
}

// startProbe queries addr for name every interval until stopped (and at
// most for limit).
func startProbe(t *testing.T, addr, name string, interval, limit time.Duration) *probe {
	p := &probe{addr: addr, name: name, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		end := time.After(limit)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			a, err := answer(addr, name)
			p.mu.Lock()
			p.queries++
			if err != nil {
				p.failures = append(p.failures, fmt.Sprintf("%s: %v", time.Now().Format("15:04:05.000"), err))
			} else if n := len(p.answers); n == 0 || p.answers[n-1].answer != a {
				p.answers = append(p.answers, change{time.Now(), a})
			}
			p.mu.Unlock()
			select {
			case <-p.stop:
				return
			case <-end:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(p.finish)
	return p
}

// finish stops the probe and waits for it; it is idempotent.
func (p *probe) finish() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// results returns the query count, the failures and the distinct answers in
// the order seen.
func (p *probe) results() (int, []string, []change) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.queries, slices.Clone(p.failures), slices.Clone(p.answers)
}

// logLines returns the lines of p's log that contain every one of subs.
func (p *proc) logLines(subs ...string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, l := range p.lines {
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

// pid is the process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// touch creates an empty file.
func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// dataPath joins a name to the host's data directory.
func (h *host) dataPath(name string) string { return filepath.Join(h.dir, name) }

// tcpOpen reports whether something accepts TCP connections on addr.
func tcpOpen(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// startExternal starts a program that is not one of the built binaries
// (unbound) the way start does: stderr kept for the log, SIGKILL at cleanup.
func startExternal(t *testing.T, name, path string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, cmd: exec.Command(path, args...), done: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = p.cmd.Stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			p.mu.Lock()
			t.Logf("%s log:\n%s", name, strings.Join(p.lines, "\n"))
			p.mu.Unlock()
		}
	})
	return p
}

// startPair starts a primary host-a and, once every coordinator lists it,
// a standby host-b with the same services, and waits until every
// coordinator answers host-a first and host-b second. The standby starts
// second because a service whose only instance is a standby's has its
// standby promoted ("no primary"), and the primary would then come second.
func (c *cluster) startPair(services string, setup func(dir string)) (*host, *host) {
	t := c.t
	t.Helper()
	a := c.startHost(hostSpec{name: "host-a", role: "active", services: services, setup: setup})
	waitAnswer(t, c.dnsAddrs(), loginName, []string{a.ip}, 60*time.Second)
	b := c.startHost(hostSpec{name: "host-b", role: "standby", services: services, setup: setup})
	took := waitAnswer(t, c.dnsAddrs(), loginName, []string{a.ip, b.ip}, 60*time.Second)
	t.Logf("both instances in DNS on every coordinator %v after the standby started", took.Round(time.Millisecond))
	return a, b
}
