//go:build bench

package bench

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/understudy/understudy/test/rig"
)

// detectRuns is the number of SIGKILLed hosts per gossip profile.
const detectRuns = 10

// TestDetection measures, per gossip profile, how long after an agent's
// process is SIGKILLed (1) the Raft leader records its host as failed and
// (2) every one of three coordinators stops answering its address for the
// service it was primary for. Each run brings a fresh pair (host-i, primary
// of svc-i, and standby-i), so runs do not depend on each other's
// failovers. Coordinators and agents use the
// same profile; DNS is polled every 10 ms on all three coordinators.
func TestDetection(t *testing.T) {
	needDNSBench(t)
	tb := &table{
		title: fmt.Sprintf("Detection and DNS flip after SIGKILL of a primary host's agent (3 coordinators, %d runs per profile)", detectRuns),
		header: []string{"profile", "leader records the host failed: median", "max",
			"DNS flipped on all 3 coordinators: median", "min", "max"},
	}
	for _, profile := range []string{"fast", "lan"} {
		detect, flip := measureDetection(t, profile)
		d, f := summarize(detect), summarize(flip)
		tb.add(profile, ms(d.P50), ms(d.Max), ms(f.P50), ms(f.Min), ms(f.Max))
		t.Logf("%s: flips %v", profile, flip)
	}
	tb.note("Times in ms from the SIGKILL. Load average at the end: %s.", loadAverage())
	tb.note("Targets (fast): median ≤ 2000, max ≤ 4000.")
	tb.print()
}

func measureDetection(t *testing.T, profile string) (detect, flip []time.Duration) {
	c := startDNSCluster(t, 3, profile)
	for i := range detectRuns {
		host, svc := fmt.Sprintf("host-%d", i), fmt.Sprintf("svc-%d", i)
		name := svc + ".service.understudy."
		// The primary first: a service whose only instance is a standby's
		// has that standby promoted, and the primary would come second.
		h := startPlainHost(c, host, "active", svc)
		poll(t, 60*time.Second, name+" to list "+host, func() bool {
			return rig.AllAnswer(c.DNSAddrs(), name, h.IP)
		})
		standby := startPlainHost(c, fmt.Sprintf("standby-%d", i), "standby", svc)
		poll(t, 60*time.Second, name+" to list "+host+" and its standby", func() bool {
			return rig.AllAnswer(c.DNSAddrs(), name, h.IP+","+standby.IP)
		})
		t0 := time.Now()
		if err := h.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		poll(t, 60*time.Second, name+" to list only the standby", func() bool {
			return rig.AllAnswer(c.DNSAddrs(), name, standby.IP)
		})
		flip = append(flip, time.Since(t0))
		h.Kill() // already SIGKILLed: waits for it to be gone
		var at time.Time
		poll(t, 10*time.Second, "the leader to log that "+host+" failed", func() bool {
			for _, p := range c.Coords {
				if got, ok := firstLogged([]*rig.Proc{p.Proc}, "host status changed", "host="+host+" ", "to=failed"); ok {
					at = got
					return true
				}
			}
			return false
		})
		detect = append(detect, at.Sub(t0))
		// Keep the pool small: the next run brings its own pair.
		standby.Kill()
	}
	return detect, flip
}
