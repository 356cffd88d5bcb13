package dns

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/understudy/understudy/coordinator/internal/catalog"
)

// TestCacheConcurrentWithApply queries from several goroutines, in mixed
// case, while the primary's health flips; every reply must be one of the
// two states the catalogue was in, owned by the name as asked. Run with
// -race, this also checks that shared cached records are never written.
func TestCacheConcurrentWithApply(t *testing.T) {
	t.Parallel()
	cat := fixture(t)
	h := newTestHandler(t, testConfig(t), cat)
	both := []string{"10.0.0.1", "10.0.0.2"}
	standby := []string{"10.0.0.2"}

	const workers, queries, flips = 4, 300, 100
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			names := []string{"login.service.understudy.", "LOGIN.service.understudy.", "Login.Service.Understudy."}
			for i := range queries {
				qname := names[(w+i)%len(names)]
				q := query(qname, mdns.TypeA)
				if i%2 == 0 {
					q.SetEdns0(1232, false)
				}
				rec := newRecorder(udpClient)
				h.ServeDNS(rec, q)
				if rec.err != nil || len(rec.msgs) != 1 {
					errs <- fmt.Errorf("query %d: %d replies, err %v", i, len(rec.msgs), rec.err)
					return
				}
				var got []string
				for _, rr := range rec.msgs[0].Answer {
					if rr.Header().Name != qname {
						errs <- fmt.Errorf("owner %q, asked %q", rr.Header().Name, qname)
						return
					}
					got = append(got, rr.(*mdns.A).A.String())
				}
				if !slices.Equal(got, both) && !slices.Equal(got, standby) {
					errs <- fmt.Errorf("query %d: answer %v, want %v or %v", i, got, both, standby)
					return
				}
			}
		})
	}
	for i := range flips {
		health := catalog.HealthCritical
		if i%2 == 1 {
			health = catalog.HealthPassing
		}
		cat.Run(&catalog.SetHealth{Host: "host-a", Service: "login", Health: health})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The last flip left host-a passing; the cache must not say otherwise.
	m := exchange(t, h, query("login.service.understudy.", mdns.TypeA), false)
	if len(m.Answer) != 2 {
		t.Errorf("after the flips: %v, want both addresses", m.Answer)
	}
}

func TestCacheBounded(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, testConfig(t), fixture(t))
	for i := range maxCacheEntries + 500 {
		m := exchange(t, h, query(fmt.Sprintf("made-up-%d.service.understudy.", i), mdns.TypeA), false)
		if m.Rcode != mdns.RcodeNameError {
			t.Fatalf("made-up name %d: rcode %s", i, mdns.RcodeToString[m.Rcode])
		}
	}
	h.cache.mu.RLock()
	n := len(h.cache.entries)
	h.cache.mu.RUnlock()
	if n > maxCacheEntries {
		t.Errorf("%d cache entries, bound %d", n, maxCacheEntries)
	}
	if m := exchange(t, h, query("login.service.understudy.", mdns.TypeA), false); len(m.Answer) != 2 {
		t.Errorf("after the flood: %v", m.Answer)
	}
}
