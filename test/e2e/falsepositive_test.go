//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/understudy/understudy/test/rig"
)

// The false-positive budget: a primary host whose agent is CPU-starved
// (SIGSTOP bursts) or loses 30% of its packets must not be declared dead by
// the lan profile. The issue asks for two minutes of each; CI runs 20
// seconds unless UNDERSTUDY_LONG_TESTS=1. The fast profile runs under the
// same faults and its outcome is logged, not asserted (docs/benchmarks.md
// records it).

func faultPeriod() time.Duration {
	if os.Getenv("UNDERSTUDY_LONG_TESTS") == "1" {
		return 2 * time.Minute
	}
	return 20 * time.Second
}

// plainService is registered without a check: it is passing exactly while
// its host is alive, so DNS shows what failure detection decided.
const plainService = `  - {name: login, grid: osgrid, port: 8002}
`

// fault is a degradation applied to one host for a period; it returns when
// the period is over and the host is whole again.
type fault struct {
	name  string
	apply func(t *testing.T, h *rig.Host, d time.Duration)
}

// starve stops the agent with SIGSTOP for 200 ms out of every second.
func starve(t *testing.T, h *rig.Host, d time.Duration) {
	pid := h.Pid()
	defer syscall.Kill(pid, syscall.SIGCONT)
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		rig.Eventually(t, time.Second, "the agent to be stopped", func() bool { return procState(pid) == "T" })
		time.Sleep(200 * time.Millisecond) // the burst's stopped part
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		time.Sleep(800 * time.Millisecond) // and its running part
	}
}

// lose drops 30% of the packets to and from the host's address (not its
// traffic with itself) with an nftables table of the test's own, removed
// afterwards.
func lose(t *testing.T, h *rig.Host, d time.Duration) {
	table := fmt.Sprintf("understudy_e2e_%d", os.Getpid())
	rules := fmt.Sprintf(`table inet %[1]s {
  chain input {
    type filter hook input priority -10; policy accept;
    ip saddr %[2]s ip daddr != %[2]s numgen random mod 100 < 30 counter drop
    ip daddr %[2]s ip saddr != %[2]s numgen random mod 100 < 30 counter drop
  }
}
`, table, h.IP)
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v\n%s", err, out)
	}
	remove := func() { exec.Command("nft", "delete", "table", "inet", table).Run() }
	t.Cleanup(remove)
	defer remove()
	timer := time.NewTimer(d)
	<-timer.C // the degraded period
	out, err := exec.Command("nft", "list", "table", "inet", table).Output()
	if err != nil {
		t.Fatalf("nft list table: %v", err)
	}
	dropped := 0
	for _, m := range reCounter.FindAllStringSubmatch(string(out), -1) {
		n, _ := strconv.Atoi(m[1])
		dropped += n
	}
	if dropped == 0 {
		t.Fatalf("the loss rules dropped nothing:\n%s", out)
	}
	t.Logf("nft dropped %d packets of host-a's", dropped)
}

var reCounter = regexp.MustCompile(`counter packets (\d+)`)

// procState returns the state letter of a process from /proc (T: stopped).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The state follows the command name, which is in parentheses.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return ""
}

// nftUsable reports whether nft can create tables here.
func nftUsable() bool {
	if _, err := exec.LookPath("nft"); err != nil {
		return false
	}
	return exec.Command("nft", "list", "tables").Run() == nil
}

func TestFalsePositiveBudget(t *testing.T) {
	period := faultPeriod()
	faults := []fault{{"sigstop 200ms of every 1s", starve}, {"30% packet loss", lose}}
	for _, profile := range []string{"lan", "fast"} {
		for _, f := range faults {
			t.Run(profile+"/"+f.name, func(t *testing.T) {
				if f.name == "30% packet loss" && (os.Geteuid() != 0 || !nftUsable()) {
					t.Skip("nft is not usable here (needs root and nftables)")
				}
				c := rig.Start(t, rig.Spec{Bins: bins, Profile: profile})
				a, b := startPair(t, c, plainService, nil)
				want := a.IP + "," + b.IP

				var probes []*probe
				for _, s := range c.DNSAddrs() {
					probes = append(probes, startProbe(t, s, loginName, 50*time.Millisecond, period+time.Minute))
				}
				f.apply(t, a, period)
				for _, p := range probes {
					p.finish()
				}
				suspected, declared, statusChanges := 0, 0, 0
				for _, co := range c.Coords {
					suspected += len(co.Grep("Suspect host-a has failed"))
					declared += len(co.Grep("Marking host-a as failed"))
					statusChanges += len(co.Grep("host status changed", "host=host-a"))
				}
				flips := 0
				var failures []string
				for _, p := range probes {
					_, fails, answers := p.results()
					failures = append(failures, fails...)
					for _, ch := range answers {
						if ch.answer != want {
							flips++
						}
					}
				}
				summary := fmt.Sprintf("%s profile, %s for %v: %d suspicions of host-a, %d dead declarations (memberlist), %d catalogue status changes, %d answers without host-a across 3 coordinators, %d failed queries",
					profile, f.name, period, suspected, declared, statusChanges, flips, len(failures))
				t.Log(summary)
				if len(failures) > 0 {
					// Not this test's subject (TestDNSAnswersThroughLeaderElection
					// asserts on failed queries); on a loaded two-core machine a
					// query can time out while every process waits for the CPU.
					t.Logf("failed DNS queries: %v", failures)
				}
				if profile != "lan" {
					return // the fast profile's outcome is reported, not asserted
				}
				if declared > 0 || statusChanges > 0 || flips > 0 {
					t.Errorf("the lan profile declared a degraded but live host dead: %s", summary)
				}
			})
		}
	}
}
