//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/test/rig"
)

// This file holds the helpers of the health, DNS and resolver tests, which
// run on test/rig: a three-coordinator cluster with a chosen gossip
// profile, agent hosts each on its own loopback address, the gridlogin
// service as a supervised process, and a continuous DNS probe.

// dnsTimeout bounds every DNS query of these tests: two seconds, as a stub
// resolver's retry would allow. The machine the tests run on is small and
// shared, and a query that is slow but answered is not a failure.
const dnsTimeout = 2 * time.Second

// loginService is a gridlogin process supervised by the agent, with an HTTP
// check on get_grid_info, running on standbys too.
const loginService = `  - name: login
    grid: osgrid
    port: 8002
    standby: hot
    run: [{GRIDLOGIN}, --addr, "{IP}:8002", --data-dir, "{DATA}", --grid, osgrid, --instance, "{IP}"]
    check: {http: "http://{IP}:8002/get_grid_info", interval: 500ms, timeout: 400ms,
            failures_before_critical: 2, successes_before_passing: 2}
`

// waitAnswer waits until every server answers name with exactly want (in
// order) and returns how long that took.
func waitAnswer(t *testing.T, servers []string, name string, want []string, d time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	w := strings.Join(want, ",")
	got := make([]string, len(servers))
	rig.Eventually(t, d, fmt.Sprintf("%s = %s on %v (last %q)", name, w, servers, got), func() bool {
		for i, s := range servers {
			a, err := rig.AnswerWithin(s, name, dnsTimeout)
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
			a, err := rig.AnswerWithin(addr, name, dnsTimeout)
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

// touch creates an empty file.
func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// tcpOpen reports whether something accepts TCP connections on addr.
func tcpOpen(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// startPair starts a primary host-a and, once every coordinator lists it,
// a standby host-b with the same services (prepare, if set, readies each
// host's service data directory), and waits until every coordinator
// answers host-a first and host-b second. The standby starts second
// because a service whose only instance is a standby's has its standby
// promoted ("no primary"), and the primary would then come second.
func startPair(t *testing.T, c *rig.Cluster, services string, prepare func(data string) error) (*rig.Host, *rig.Host) {
	t.Helper()
	a := c.StartHost(rig.HostSpec{Name: "host-a", Role: "active", Services: services, Prepare: prepare})
	waitAnswer(t, c.DNSAddrs(), loginName, []string{a.IP}, 60*time.Second)
	b := c.StartHost(rig.HostSpec{Name: "host-b", Role: "standby", Services: services, Prepare: prepare})
	took := waitAnswer(t, c.DNSAddrs(), loginName, []string{a.IP, b.IP}, 60*time.Second)
	t.Logf("both instances in DNS on every coordinator %v after the standby started", took.Round(time.Millisecond))
	return a, b
}
