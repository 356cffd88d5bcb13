package gossip

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkFailureDetection measures, per profile, the time from a member's
// crash (Shutdown without Leave) until another member reports it dead, in a
// pool of three. Run with a small count:
//
//	go test -run '^$' -bench FailureDetection -benchtime 5x ./pkg/gossip
func BenchmarkFailureDetection(b *testing.B) {
	for _, profile := range []Profile{ProfileFast, ProfileLAN} {
		b.Run(string(profile), func(b *testing.B) {
			var took []time.Duration
			i := 0
			for b.Loop() {
				i++
				took = append(took, detectOnce(b, profile, i))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "median-ms")
			b.ReportMetric(float64(took[len(took)-1].Milliseconds()), "max-ms")
		})
	}
}

func detectOnce(b *testing.B, profile Profile, run int) time.Duration {
	b.Helper()
	var pools []*Pool
	for j := range 3 {
		name := fmt.Sprintf("n%d-%d", run, j)
		cfg := DefaultConfig()
		cfg.NodeName, cfg.BindAddr, cfg.BindPort, cfg.Profile = name, "127.0.0.1", 0, profile
		cfg.Meta = agentMeta(name, RoleActive)
		p, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Shutdown()
		if j > 0 {
			if _, err := p.Join(b.Context(), []string{pools[0].Addr()}); err != nil {
				b.Fatal(err)
			}
		}
		pools = append(pools, p)
	}
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for pools[0].NumMembers() != 3 || pools[2].NumMembers() != 3 {
		if time.Now().After(deadline) {
			b.Fatal("pool did not form")
		}
		<-tick.C
	}
	victim := pools[1].LocalNode().Name
	start := time.Now()
	pools[1].Shutdown()
	for {
		if m, ok := member(pools[0], victim); ok && m.State == StateDead {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			b.Fatal("crash not detected within a minute")
		}
		<-tick.C
	}
}
