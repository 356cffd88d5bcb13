package health

import (
	"net"
	"strings"
	"sync"
	"testing"
)

func TestTCPProbe(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	})
	p := newTCPProbe(ln.Addr().String())

	for i := range 3 {
		if res := probeOnce(t, p, probeTimeout); res.status != Passing {
			t.Fatalf("probe %d: got %s %q, want passing", i, res.status, res.output)
		}
	}

	ln.Close()
	wg.Wait()
	res := probeOnce(t, p, probeTimeout)
	if res.status != Critical || !strings.Contains(res.output, "connection refused") {
		t.Errorf("closed listener: got %s %q, want critical, connection refused", res.status, res.output)
	}
}
