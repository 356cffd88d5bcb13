//go:build bench

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/pkg/api"
)

// Allocation load: poolHosts standby hosts registered through the API, then
// rows of poolHosts allocations from a row's number of concurrent clients,
// each followed by as many deallocations, so that every row starts from a
// full pool.
//
// Hosts registered through the API alone have no agent in gossip, and a
// leader marks such hosts failed once it has led for 10 s; the whole run
// therefore fits in that window, and a row that finds the pool empty early
// reports its refusals.
const (
	poolHosts   = 1000
	poolClients = 64 // for registration
	poolRegion  = "bench"
)

// allocRun is one timed burst of allocations or deallocations.
type allocRun struct {
	lat      []time.Duration
	failed   int
	firstErr error
	wall     time.Duration
}

// runPool sends total operations from clients goroutines; op(c, i)
// performs operation i with client c. Clients are spread over addrs.
func runPool(addrs []string, total, clients int, op func(ctx context.Context, c *api.Client, i int) error) allocRun {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var (
		mu sync.Mutex // guards r
		r  = allocRun{lat: make([]time.Duration, 0, total)}
		wg sync.WaitGroup
	)
	start := time.Now()
	for w := range clients {
		wg.Go(func() {
			c := api.NewClient(addrs[w%len(addrs)], adminToken)
			for i := w; i < total && ctx.Err() == nil; i += clients {
				t0 := time.Now()
				err := op(ctx, c, i)
				d := time.Since(t0)
				mu.Lock()
				if err == nil {
					r.lat = append(r.lat, d)
				} else {
					r.failed++
					if r.firstErr == nil {
						r.firstErr = err
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.wall = time.Since(start)
	return r
}

func TestAllocationThroughput(t *testing.T) {
	c := startProcCluster(t, "lan")
	leader := c.leader(30 * time.Second)
	ctx := t.Context()
	admin := c.procs[leader].client(adminToken)
	pol := json.RawMessage(fmt.Sprintf(`{"standby_floor": 10, "max_servers": %d}`, 2*poolHosts))
	if _, err := admin.SetPoolPolicy(ctx, poolRegion, pol); err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, p := range c.procs {
		all = append(all, p.http)
	}
	t0 := time.Now()
	reg := runPool([]string{c.procs[leader].http}, poolHosts, poolClients, func(ctx context.Context, cl *api.Client, i int) error {
		return cl.Register(ctx, api.Registration{
			Name: fmt.Sprintf("standby-%04d", i), Region: poolRegion, Role: "standby",
			Address:  fmt.Sprintf("127.2.%d.%d", i/250, i%250+1),
			Services: []api.ServiceDef{{Name: "game", Port: 7000}},
		})
	})
	if reg.failed > 0 {
		t.Fatalf("registration: %d failed, first: %v", reg.failed, reg.firstErr)
	}
	poll(t, 10*time.Second, "every standby ready", func() bool {
		p, err := admin.Pool(ctx, poolRegion)
		return err == nil && p.Ready == poolHosts
	})
	setup := time.Since(t0)

	tb := &table{
		title:  fmt.Sprintf("Allocations from a pool of %d standby hosts, three coordinator processes", poolHosts),
		header: []string{"operation", "sent to", "clients", "ok", "refused", "mean ms", "p50 ms", "p99 ms", "max ms", "per second"},
	}
	rows := []struct {
		clients int
		addrs   []string
	}{
		{16, all},
		{32, all},
		{64, all},
		{32, []string{c.procs[leader].http}},
	}
	for n, row := range rows {
		sent := "all three"
		if len(row.addrs) == 1 {
			sent = "leader"
		}
		alloc := runPool(row.addrs, poolHosts, row.clients, func(ctx context.Context, cl *api.Client, i int) error {
			_, err := cl.Allocate(ctx, poolRegion, api.AllocateRequest{ID: fmt.Sprintf("r%d-%d", n, i)})
			return err
		})
		addRow(tb, "allocate", sent, row.clients, alloc)
		if alloc.failed > 0 {
			tb.note("Row %d: first refusal: %v", n+1, alloc.firstErr)
		}
		p, err := admin.Pool(ctx, poolRegion, api.Consistent())
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, a := range p.Allocations {
			if seen[a.Host] {
				t.Fatalf("host %s allocated twice", a.Host)
			}
			seen[a.Host] = true
		}
		if len(p.Allocations) != len(alloc.lat) {
			t.Fatalf("pool holds %d allocations, %d succeeded", len(p.Allocations), len(alloc.lat))
		}
		hosts := p.Allocations
		dealloc := runPool(row.addrs, len(hosts), row.clients, func(ctx context.Context, cl *api.Client, i int) error {
			return cl.Deallocate(ctx, poolRegion, hosts[i].Host)
		})
		addRow(tb, "deallocate", sent, row.clients, dealloc)
	}
	tb.note("Setup: %d registrations in %.2f s (%d clients to the leader). Load average (1, 5, 15 min) after the run: %s.",
		poolHosts, setup.Seconds(), poolClients, loadAverage())
	tb.print()
}

func addRow(tb *table, name, sent string, clients int, r allocRun) {
	s := summarize(r.lat)
	tb.add(name, sent, fmt.Sprint(clients), fmt.Sprint(s.N), fmt.Sprint(r.failed), ms(s.Mean), ms(s.P50), ms(s.P99), ms(s.Max),
		fmt.Sprintf("%.0f", float64(s.N)/r.wall.Seconds()))
}
