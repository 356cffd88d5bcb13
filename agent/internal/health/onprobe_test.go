package health

import (
	"net"
	"sync"
	"testing"
	"time"
)

// OnProbe sees every counted probe with its result.
func TestRunnerOnProbe(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	r := newRunner(t, map[string]CheckConfig{
		"db": {TCP: ln.Addr().String(), Interval: 50 * time.Millisecond, Timeout: 40 * time.Millisecond},
	})
	var mu sync.Mutex
	results := map[Status]int{}
	r.OnProbe(func(check string, res Status, took time.Duration) {
		if check != "db" || took < 0 {
			t.Errorf("OnProbe(%q, %s, %v)", check, res, took)
		}
		mu.Lock()
		results[res]++
		mu.Unlock()
	})
	startRunner(t, r)
	deadline := time.Now().Add(waitTimeout)
	for {
		mu.Lock()
		n := results[Passing]
		mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("saw %v, want 3 passing probes", results)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
