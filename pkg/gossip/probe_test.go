package gossip

import (
	"sync"
	"testing"
	"time"
)

// OnProbe sees the other member's probes with a plausible round trip, and
// a healthy member's health score is 0.
func TestPoolOnProbe(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	rtts := map[string]time.Duration{}
	cfg := testConfig(t, "coord-1", coordMeta("coord-1"))
	cfg.OnProbe = func(node string, rtt time.Duration) {
		mu.Lock()
		rtts[node] = rtt
		mu.Unlock()
	}
	a := startPool(t, cfg)
	b := startPool(t, testConfig(t, "host-a", agentMeta("host-a", RoleActive)))
	join(t, b, a)
	waitFor(t, "a probe of host-a", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return rtts["host-a"] > 0
	})
	mu.Lock()
	rtt := rtts["host-a"]
	mu.Unlock()
	if rtt > waitTimeout {
		t.Errorf("round trip %v", rtt)
	}
	if s := a.HealthScore(); s != 0 {
		t.Errorf("HealthScore = %d, want 0", s)
	}
}
