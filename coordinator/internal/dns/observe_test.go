package dns

import (
	"slices"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

func TestObserve(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	cfg := testConfig(t)
	cfg.Observe = func(qtype, rcode string, took time.Duration) {
		if took < 0 {
			t.Errorf("negative duration %v", took)
		}
		mu.Lock()
		got = append(got, qtype+" "+rcode)
		mu.Unlock()
	}
	h := newTestHandler(t, cfg, fixture(t))
	exchange(t, h, query("login.service.understudy.", mdns.TypeA), false)
	exchange(t, h, query("nothing.service.understudy.", mdns.TypeSRV), true)
	exchange(t, h, query("example.org.", mdns.TypeAAAA), false)
	exchange(t, h, query("login.service.understudy.", 65280), false) // private use: no name
	want := []string{"A NOERROR", "SRV NXDOMAIN", "AAAA REFUSED", "other NOERROR"}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("observed %q, want %q", got, want)
	}
}
