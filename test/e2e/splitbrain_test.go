//go:build e2e

package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/test/rig"
)

// Probing for the split-brain tests: every few milliseconds, each attempt on
// a fresh connection and bounded, so that a stopped instance is seen at
// once and a paused one cannot hold a probe for long.
const (
	probeEvery   = 3 * time.Millisecond
	probeTimeout = 100 * time.Millisecond
	probeLimit   = 2 * time.Minute
)

// neverBoth checks two instances' probe records: every answer of the new
// instance came after the last answer of the old one, so at no instant did
// both serve. It returns the last old answer and the first new one.
func neverBoth(t *testing.T, old, new *rig.Probe) (time.Time, time.Time) {
	t.Helper()
	oh, on := old.Hits()
	nh, nn := new.Hits()
	if len(oh) == 0 || len(nh) == 0 {
		t.Fatalf("old instance answered %d of %d probes, new %d of %d: want both to have served", len(oh), on, len(nh), nn)
	}
	lastOld, firstNew := oh[len(oh)-1], nh[0]
	if !lastOld.Got.Before(firstNew.Sent) {
		t.Fatalf("both instances served at once: the old one answered a probe until %s, the new one from %s",
			lastOld.Got.Format("15:04:05.000000"), firstNew.Sent.Format("15:04:05.000000"))
	}
	t.Logf("old instance: %d of %d probes answered, last answer %s; new instance: %d of %d, first probe answered sent %s; gap %v",
		len(oh), on, lastOld.Got.Format("15:04:05.000"), len(nh), nn, firstNew.Sent.Format("15:04:05.000"),
		firstNew.Sent.Sub(lastOld.Got).Round(time.Millisecond))
	return lastOld.Got, firstNew.Sent
}

// TestPartitionedPrimaryStopsBeforeStandbyStarts cuts the primary host off
// from every coordinator with nftables while its login service keeps
// running. Its agent cannot renew the lease and stops the service by
// itself; only then is the standby promoted. When the cut heals, the old
// primary learns it is fenced, keeps the service stopped, resynchronises
// and stands by.
func TestPartitionedPrimaryStopsBeforeStandbyStarts(t *testing.T) {
	if err := rig.NftAvailable(); err != nil {
		if errors.Is(err, rig.ErrNoNftables) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	c, a, b := failoverPair(t, "cold", false)
	oldPIDs := servicePIDs(t, a)
	epoch := serviceNow(t, c, "login").Epoch

	pa := rig.StartProbe(a.ServiceAddr(), probeEvery, probeTimeout, probeLimit)
	pb := rig.StartProbe(b.ServiceAddr(), probeEvery, probeTimeout, probeLimit)
	t.Cleanup(pa.Stop)
	t.Cleanup(pb.Stop)
	rig.Eventually(t, 5*time.Second, "the probe to see the primary serve", func() bool {
		h, _ := pa.Hits()
		return len(h) > 0
	})

	cut := c.Cut(t, a)
	begin := time.Now()
	// The agent keeps running, cut off; its service goes when the lease
	// runs out, and the standby's starts afterwards.
	var oldGone, newUp time.Time
	rig.Eventually(t, 30*time.Second, "the old primary's service to stop and the standby's to start", func() bool {
		if oldGone.IsZero() && !anyAlive(oldPIDs) {
			oldGone = time.Now()
		}
		if newUp.IsZero() && len(b.ServicePIDs()) > 0 {
			newUp = time.Now()
		}
		return !oldGone.IsZero() && !newUp.IsZero() && rig.AllAnswer(c.DNSAddrs(), failoverDNSName, b.IP)
	})
	if a.Exited() {
		t.Fatal("the partitioned agent exited; it should keep running cut off")
	}
	if !oldGone.Before(newUp) {
		t.Fatalf("the standby's service process appeared (%s) before the old primary's exited (%s)",
			newUp.Format("15:04:05.000"), oldGone.Format("15:04:05.000"))
	}
	t.Logf("cut at %s: old service process gone after %v, standby's process seen after %v",
		begin.Format("15:04:05.000"), oldGone.Sub(begin).Round(time.Millisecond), newUp.Sub(begin).Round(time.Millisecond))
	rig.Eventually(t, 10*time.Second, "the new primary to answer probes", func() bool {
		h, _ := pb.Hits()
		return len(h) > 0
	})
	lastOld, _ := neverBoth(t, pa, pb)
	if lastOld.Before(begin) {
		t.Logf("the old instance's last answer came before the cut")
	}
	if s := serviceNow(t, c, "login"); s.Primary != "host-b" || s.Epoch <= epoch {
		t.Fatalf("after the partition the service is %+v, want primary host-b above epoch %d", s, epoch)
	}

	// Heal: the old primary comes back fenced, keeps its service stopped,
	// resyncs and stands by.
	if err := cut.Heal(); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	rig.Eventually(t, 60*time.Second, "host-a to resync and stand by (not fenced, not primary)", func() bool {
		out, _, code := runCLI(t, []string{"UNDERSTUDY_HTTP_ADDR=" + c.Coords[0].HTTP}, "understudy-coordinator", "services", "--json")
		if code != 0 {
			return false
		}
		var ss []api.Service
		if json.Unmarshal([]byte(out), &ss) != nil {
			return false
		}
		for _, s := range ss {
			if in, ok := instanceOf(s, "host-a"); s.Name == "login" && ok {
				return !in.Fenced && !in.Primary && s.Primary == "host-b"
			}
		}
		return false
	})
	if lines := a.Grep("fenced: resynchronising"); len(lines) == 0 {
		t.Error("host-a stood by without logging its resync")
	}
	t.Logf("healed: host-a stands by %v after the rules were removed", time.Since(healed).Round(time.Millisecond))
	// It never served again: no process, no answer since the failover.
	if pids := a.ServicePIDs(); len(pids) != 0 {
		t.Errorf("the fenced host-a runs %v after the heal", pids)
	}
	pa.Stop()
	if h, _ := pa.Hits(); h[len(h)-1].Got.After(lastOld) {
		t.Errorf("host-a answered again at %s after the heal", h[len(h)-1].Got.Format("15:04:05.000"))
	}
	// Every coordinator settles on host-b alone (a replica may trail the
	// leader's last health update by a moment under load).
	rig.Eventually(t, 10*time.Second, "DNS answering only host-b after the heal", func() bool {
		return rig.AllAnswer(c.DNSAddrs(), failoverDNSName, b.IP)
	})
}

// signalPending reports whether a signal waits for process pid (read from
// /proc/PID/status).
func signalPending(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && (k == "ShdPnd" || k == "SigPnd") && strings.Trim(strings.TrimSpace(v), "0") != "" {
			return true
		}
	}
	return false
}

func anyAlive(pids []int) bool {
	for _, p := range pids {
		if rig.Alive(p) {
			return true
		}
	}
	return false
}

// TestPausedPrimaryDoesNotServeAfterWaking freezes the primary's agent and
// its login service with SIGSTOP past the lease, as a long pause would: the
// standby takes over. The agent wakes first, finds its lease gone and kills
// the service with SIGKILL, which ends the frozen process before it runs
// again: it answers nothing after waking, not even a request that reached
// its listen backlog during the freeze, and never starts again.
func TestPausedPrimaryDoesNotServeAfterWaking(t *testing.T) {
	c, a, b := failoverPair(t, "cold", false)
	svcPIDs := servicePIDs(t, a)
	epoch := serviceNow(t, c, "login").Epoch

	signalService := func(sig syscall.Signal) {
		for _, pid := range svcPIDs {
			syscall.Kill(pid, sig)
		}
	}
	// The agent first, so that it cannot act on a stopped child.
	a.Signal(syscall.SIGSTOP)
	signalService(syscall.SIGSTOP)
	t.Cleanup(func() {
		a.Signal(syscall.SIGCONT)
		signalService(syscall.SIGCONT)
	})
	paused := time.Now()
	rig.Eventually(t, 30*time.Second, "the standby to be promoted and serve", func() bool {
		return rig.Serving(b.ServiceAddr(), time.Second) && rig.AllAnswer(c.DNSAddrs(), failoverDNSName, b.IP)
	})
	t.Logf("primary paused: the standby serves and DNS answers it after %v", time.Since(paused).Round(time.Millisecond))
	if s := serviceNow(t, c, "login"); s.Primary != "host-b" || s.Epoch <= epoch {
		t.Fatalf("while paused the service is %+v, want primary host-b above epoch %d", s, epoch)
	}

	pa := rig.StartProbe(a.ServiceAddr(), probeEvery, probeTimeout, probeLimit)
	t.Cleanup(pa.Stop)
	stopping := len(a.Grep(`msg="stopping service"`, "service=login"))
	woke := time.Now()
	a.Signal(syscall.SIGCONT)
	rig.Eventually(t, 20*time.Second, "the woken agent to stop its service", func() bool {
		return len(a.Grep(`msg="stopping service"`, "service=login")) > stopping
	})
	decided := time.Since(woke)
	rig.Eventually(t, 5*time.Second, "the stop signal to be pending on the frozen service", func() bool {
		return signalPending(svcPIDs[0]) || !rig.Alive(svcPIDs[0])
	})
	resumed := time.Now()
	signalService(syscall.SIGCONT)
	rig.Eventually(t, 20*time.Second, "the old service process to exit", func() bool {
		return !anyAlive(svcPIDs)
	})
	gone := time.Since(woke)
	// Watch a while longer: nothing restarts it.
	probeUntil := time.Now().Add(3 * time.Second)
	rig.Eventually(t, 10*time.Second, "the probe window", func() bool { return time.Now().After(probeUntil) })
	pa.Stop()
	hits, tries := pa.Hits()
	queued := 0
	for _, h := range hits {
		if h.Sent.Before(resumed) {
			// The agent kills a service that lost its lease with SIGKILL,
			// which a frozen process gets before it can run again: not even
			// a request queued during the freeze may be answered.
			queued++
			t.Errorf("a request queued during the freeze (sent %v before the service woke) was answered %v after it woke",
				resumed.Sub(h.Sent).Round(time.Microsecond), h.Got.Sub(resumed).Round(time.Microsecond))
			continue
		}
		t.Errorf("the woken old primary answered a probe sent %v after it woke (answered %v after)",
			h.Sent.Sub(resumed).Round(time.Microsecond), h.Got.Sub(resumed).Round(time.Microsecond))
	}
	t.Logf("woken: the agent decided to stop the service %v after SIGCONT, the process was gone after %v; %d probes of the old instance since, %d queued ones answered",
		decided.Round(time.Millisecond), gone.Round(time.Millisecond), tries, queued)
	if pids := a.ServicePIDs(); len(pids) != 0 {
		t.Errorf("host-a runs %v after waking", pids)
	}
	if !rig.Serving(b.ServiceAddr(), time.Second) {
		t.Error("the new primary stopped serving")
	}
	if s := serviceNow(t, c, "login"); s.Primary != "host-b" {
		t.Errorf("after the old primary woke the service is %+v, want primary host-b", s)
	}
}
