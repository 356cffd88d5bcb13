//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/test/rig"
)

// These tests run three coordinators and two agent hosts (a primary and a
// hot standby of the service login, each on its own loopback address) and
// watch login.service.understudy on every coordinator. Times are logged, not
// asserted: make bench-detect measures them.

const loginName = "login.service.understudy."

// primaryAndStandby starts a fast-profile cluster, a primary and a standby
// host with the given services, and waits until every coordinator answers
// the primary's address first and the standby's second.
func primaryAndStandby(t *testing.T, services string) (*rig.Cluster, *rig.Host, *rig.Host) {
	t.Helper()
	c := rig.Start(t, rig.Spec{Bins: bins, Profile: "fast"})
	a, b := startPair(t, c, services, nil)
	return c, a, b
}

// commandCheckService is the login service without a process, whose check
// fails while the file "fail" exists in the service's data directory.
const commandCheckService = `  - name: login
    grid: osgrid
    port: 8002
    check: {command: [sh, -c, "test ! -e {DATA}/fail"], interval: 500ms, timeout: 400ms,
            failures_before_critical: 2, successes_before_passing: 2}
`

func TestFailingCheckLeavesDNS(t *testing.T) {
	c, a, b := primaryAndStandby(t, commandCheckService)
	begin := time.Now()
	touch(t, filepath.Join(a.Data, "fail"))
	waitAnswer(t, c.DNSAddrs(), loginName, []string{b.IP}, 30*time.Second)
	t.Logf("primary's check failing (interval 500ms, 2 failures before critical): gone from DNS on all coordinators after %v",
		time.Since(begin).Round(time.Millisecond))
	// The host itself stays alive: only its instance left.
	hs, err := api.NewClient(c.Coords[0].HTTP, "").Hosts(context.Background(), api.Consistent())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.Name == "host-a" && h.Status != "alive" {
			t.Errorf("host-a status %q after a failing check, want alive", h.Status)
		}
	}
}

func TestKilledHostLeavesDNS(t *testing.T) {
	c, a, b := primaryAndStandby(t, loginService)
	begin := time.Now()
	a.Kill() // the agent; its service dies with it (parent-death signal)
	waitAnswer(t, c.DNSAddrs(), loginName, []string{b.IP}, 30*time.Second)
	t.Logf("primary host SIGKILLed: gone from DNS on all coordinators after %v (fast profile)",
		time.Since(begin).Round(time.Millisecond))
	rig.Eventually(t, 10*time.Second, "host-a's login service to die with its agent", func() bool {
		return !tcpOpen(a.IP + ":8002")
	})
}

// flappingService's check passes while the file "steady" exists and, once
// it is removed, alternates between exit 0 and exit 2 at every run; every
// run appends its result to the file "runs".
const flappingService = `  - name: login
    grid: osgrid
    port: 8002
    check:
      command: [sh, -c, 'cd {DATA}; if [ -e steady ]; then echo 0 >>runs; exit 0; fi; if [ -e odd ]; then rm odd; echo 2 >>runs; exit 2; fi; touch odd; echo 0 >>runs; exit 0']
      interval: 500ms
      timeout: 400ms
      failures_before_critical: 2
      successes_before_passing: 2
`

func TestFlappingCheckDoesNotFlapDNS(t *testing.T) {
	c := rig.Start(t, rig.Spec{Bins: bins, Profile: "fast"})
	steady := func(data string) error {
		return os.WriteFile(filepath.Join(data, "steady"), nil, 0o600)
	}
	a, b := startPair(t, c, flappingService, steady)
	want := a.IP + "," + b.IP

	// Start flapping on the primary, then probe every coordinator for a
	// bounded period.
	if err := os.Remove(filepath.Join(a.Data, "steady")); err != nil {
		t.Fatal(err)
	}
	const period = 10 * time.Second
	var probes []*probe
	for _, s := range c.DNSAddrs() {
		probes = append(probes, startProbe(t, s, loginName, 20*time.Millisecond, period))
	}
	for i, p := range probes {
		<-p.done // the observation window
		n, fails, answers := p.results()
		if len(fails) > 0 {
			t.Errorf("coord-%d: %d of %d queries failed: %v", i+1, len(fails), n, fails)
		}
		if len(answers) != 1 || answers[0].answer != want {
			t.Errorf("coord-%d: the answer changed while the check flapped: %v (want only %s)", i+1, answers, want)
		}
		t.Logf("coord-%d: %d queries over %v, answer constant %q", i+1, n, period, want)
	}
	runs, err := os.ReadFile(filepath.Join(a.Data, "runs"))
	if err != nil {
		t.Fatal(err)
	}
	fails := strings.Count(string(runs), "2\n")
	if fails < int(period/time.Second)/2 {
		t.Fatalf("the check failed only %d times in %v: it did not flap (runs %q)", fails, period, runs)
	}
	if strings.Contains(string(runs), "2\n2\n") {
		t.Fatalf("the check failed twice in a row, so it did not only flap (runs %q)", runs)
	}
	t.Logf("the primary's check failed %d times, never twice in a row", fails)
}

func TestDNSAnswersThroughLeaderElection(t *testing.T) {
	c, a, b := primaryAndStandby(t, loginService)
	want := a.IP + "," + b.IP
	ctx := context.Background()
	leader, err := api.NewClient(c.Coords[0].HTTP, "").Leader(ctx)
	if err != nil || leader.ID == "" {
		t.Fatalf("leader: %+v %v", leader, err)
	}
	var killed *rig.Coord
	var survivors []*rig.Coord
	var probes []*probe
	for _, p := range c.Coords {
		if p.Name == leader.ID {
			killed = p
			continue
		}
		survivors = append(survivors, p)
		// The probes outlast the election (a second or two with the fast
		// profile) and the new leader's first reconciliations.
		probes = append(probes, startProbe(t, p.DNS, loginName, 10*time.Millisecond, 15*time.Second))
	}
	if killed == nil {
		t.Fatalf("leader %q is not one of the coordinators", leader.ID)
	}
	begin := time.Now()
	killed.Kill()
	rig.Eventually(t, 30*time.Second, "a new leader", func() bool {
		l, err := api.NewClient(survivors[0].HTTP, "").Leader(ctx)
		return err == nil && l.ID != "" && l.ID != leader.ID
	})
	elected := time.Since(begin)
	for i, p := range probes {
		<-p.done
		n, fails, answers := p.results()
		if len(fails) > 0 {
			t.Errorf("%s: %d of %d queries failed during the election: %v", survivors[i].Name, len(fails), n, fails)
		}
		if len(answers) != 1 || answers[0].answer != want {
			t.Errorf("%s: answers changed during the election: %v", survivors[i].Name, answers)
		}
		t.Logf("%s: %d queries, none failed, across an election that took %v", survivors[i].Name, n, elected.Round(time.Millisecond))
	}
}
