package consensus

import (
	"sync"
	"testing"
	"time"
)

// A single node that bootstraps itself reports itself as leader through
// OnLeaderChange, and Shutdown waits for the callback goroutine.
func TestOnLeaderChange(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	cfg := testConfig(t, "n1", t.TempDir())
	cfg.OnLeaderChange = func(id string) {
		mu.Lock()
		seen = append(seen, id)
		mu.Unlock()
	}
	n, err := New(cfg, &logFSM{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown()
	if err := n.Bootstrap([]Server{{ID: "n1", Address: n.Addr()}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "leader observation", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0 && seen[len(seen)-1] == "n1"
	})
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}
