package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/coordinator/server"
	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/pkg/gossip"
)

// newPoolCluster starts n coordinators like [New], with cfg applied to each
// configuration and hosts registered through the API alone kept alive (no
// agent gossips for them).
func newPoolCluster(t *testing.T, n int, cfg func(*server.Config)) *Cluster {
	t.Helper()
	key, err := gossip.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, Key: key, AdminToken: "admin-" + t.Name(), AgentToken: "agent-" + t.Name()}
	lw := &lateWriter{t: t}
	t.Cleanup(lw.close) // runs after stopAll
	t.Cleanup(c.stopAll)
	logger := slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for i := range n {
		sc := server.DefaultConfig()
		sc.NodeName = fmt.Sprintf("coord-%d", i+1)
		sc.DataDir = t.TempDir()
		sc.BindAddr = "127.0.0.1"
		sc.Ports = server.Ports{}
		sc.BootstrapExpect = n
		sc.Encrypt = key
		sc.ACL = server.ACLConfig{AdminToken: c.AdminToken, AgentToken: c.AgentToken}
		sc.GossipProfile = string(gossip.ProfileFast)
		if i > 0 {
			sc.RetryJoin = []string{c.Coordinators[0].GossipAddr()}
		}
		if cfg != nil {
			cfg(&sc)
		}
		s, err := server.New(sc, logger.With("node", sc.NodeName),
			server.WithRaftTimings(RaftTimings()), server.WithAbsentGrace(time.Hour))
		if err != nil {
			t.Fatalf("start %s: %v", sc.NodeName, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		co := &Coordinator{Server: s, Config: sc, cancel: cancel, done: make(chan error, 1)}
		go func() { co.done <- s.Run(ctx) }()
		c.Coordinators = append(c.Coordinators, co)
	}
	return c
}

// lateWriter writes to t.Log until closed, then drops: gossip goroutines of
// a killed member may still log after the test has ended, which t.Log does
// not allow.
type lateWriter struct {
	t      *testing.T
	mu     sync.Mutex // guards closed, held while writing
	closed bool
}

func (w *lateWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *lateWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
}

// registerStandbys registers count standby hosts of region through the API,
// spread over the coordinators.
func registerStandbys(t *testing.T, c *Cluster, region, prefix string, count int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, count)
	work := make(chan int)
	for w := range 16 {
		cl := c.Coordinators[w%len(c.Coordinators)].Client(c.AgentToken)
		wg.Go(func() {
			for i := range work {
				reg := api.Registration{Name: fmt.Sprintf("%s-%04d", prefix, i), Region: region, Role: "standby",
					Address:  fmt.Sprintf("10.%d.%d.%d", 1+i/65536, (i/256)%256, i%256),
					Services: []api.ServiceDef{{Name: "game", Port: 7000 + i%100}}}
				if err := retryUnavailable(func() error { return cl.Register(t.Context(), reg) }); err != nil {
					errs <- fmt.Errorf("register %s: %w", reg.Name, err)
				}
			}
		})
	}
	for i := range count {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// retryUnavailable retries f for up to 20 s while it fails with a 503 that
// is not an empty pool: a leader change cut the request short. Writes with
// an id (allocations) are safe to repeat.
func retryUnavailable(f func() error) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := f()
		if err == nil || !api.IsStatus(err, 503) || strings.Contains(err.Error(), "no ready standby") || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestConcurrentAllocationsNeverShareAHost(t *testing.T) {
	const hosts = 1000
	c := newPoolCluster(t, 3, nil)
	leader := c.Leader(10 * time.Second)
	admin := c.Coordinators[(leader+1)%3].Client(c.AdminToken)
	ctx := t.Context()

	// A bad policy is refused with the field named, and sets nothing.
	err := retryUnavailable(func() error {
		_, err := admin.SetPoolPolicy(ctx, "eu", json.RawMessage(`{"standby_floor": 20, "max_servers": 10}`))
		return err
	})
	if !api.IsStatus(err, 400) || !strings.Contains(err.Error(), "standby_floor 20 is above max_servers 10") {
		t.Fatalf("bad policy: %v, want 400 naming standby_floor", err)
	}
	if _, err := admin.Pool(ctx, "eu"); !api.IsStatus(err, 404) {
		t.Fatalf("pool after a refused policy: %v, want 404", err)
	}
	pol, err := json.Marshal(map[string]any{"standby_floor": 10, "max_servers": 2000})
	if err != nil {
		t.Fatal(err)
	}
	if err := retryUnavailable(func() error { _, err := admin.SetPoolPolicy(ctx, "eu", pol); return err }); err != nil {
		t.Fatal(err)
	}
	registerStandbys(t, c, "eu", "sb", hosts)
	Eventually(t, 20*time.Second, "every standby ready on every coordinator", func() bool {
		for _, co := range c.Coordinators {
			v, ok := co.Catalog().PoolView("eu")
			if !ok || v.Observation.Ready != hosts {
				return false
			}
		}
		return true
	})

	// 1,000 allocations at once, spread over the three coordinators, at
	// most inFlight of them on the wire (1,000 sockets at once starve
	// Raft's heartbeats under the race detector on a small machine). A
	// leader change may cut one short; it is retried under its id.
	const inFlight = 96
	sem := make(chan struct{}, inFlight)
	clients := make([]*api.Client, len(c.Coordinators))
	for i, co := range c.Coordinators {
		clients[i] = co.Client(c.AdminToken)
	}
	got := make([]api.Allocation, hosts)
	errs := make([]error, hosts)
	var wg sync.WaitGroup
	for i := range hosts {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = retryUnavailable(func() (err error) {
				got[i], err = clients[i%len(clients)].Allocate(ctx, "eu", api.AllocateRequest{ID: fmt.Sprintf("alloc-%d", i)})
				return err
			})
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for i, a := range got {
		if errs[i] != nil {
			t.Fatalf("allocation %d: %v", i, errs[i])
		}
		if prev, ok := seen[a.Host]; ok {
			t.Fatalf("host %s handed out twice (allocations %d and %d)", a.Host, prev, i)
		}
		seen[a.Host] = i
		if a.Address == "" || len(a.Ports) != 1 || a.Ports[0].Service != "game" {
			t.Fatalf("allocation %d = %+v, want an address and the game port", i, a)
		}
	}
	if len(seen) != hosts {
		t.Fatalf("%d distinct hosts handed out, want %d", len(seen), hosts)
	}
	// The pool is empty: a clear 503 from any coordinator.
	for _, cl := range clients {
		_, err := cl.Allocate(ctx, "eu", api.AllocateRequest{})
		if !api.IsStatus(err, 503) || !strings.Contains(err.Error(), "no ready standby host in region eu") {
			t.Fatalf("allocation from an empty pool: %v, want 503 naming the region", err)
		}
	}
	p, err := admin.Pool(ctx, "eu", api.Consistent())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Allocations) != hosts || p.Ready != 0 || p.Active != hosts {
		t.Fatalf("pool: %d allocations, ready %d, active %d; want %d, 0, %d", len(p.Allocations), p.Ready, p.Active, hosts, hosts)
	}
	// Deallocation returns a host; it is the next one handed out.
	back := got[0].Host
	if err := retryUnavailable(func() error { return clients[1].Deallocate(ctx, "eu", back) }); err != nil {
		t.Fatal(err)
	}
	var a api.Allocation
	err = retryUnavailable(func() (err error) {
		a, err = clients[2].Allocate(ctx, "eu", api.AllocateRequest{ID: "again"})
		return err
	})
	if err != nil || a.Host != back {
		t.Fatalf("allocation after deallocating %s: %+v, %v", back, a, err)
	}
	// A retried id gets the same host rather than another.
	if a2, err := clients[0].Allocate(ctx, "eu", api.AllocateRequest{ID: "again"}); err != nil || a2.Host != back {
		t.Fatalf("retried allocation: %+v, %v; want %s", a2, err, back)
	}
}

// hookScript is a provisioner hook: it appends each request (one JSON line)
// to $DIR/requests, waits while $DIR/hold exists, and answers with the hosts
// listed in $DIR/answer-<count> (one name a line) if that file exists.
const hookScript = `#!/bin/sh
dir=$(dirname "$0")
req=$(cat)
printf '%s\n' "$req" >> "$dir/requests"
i=0
while [ -e "$dir/hold" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
count=$(printf '%s' "$req" | sed -n 's/.*"count":\([0-9]*\).*/\1/p')
hosts=""
if [ -e "$dir/answer-$count" ]; then
  hosts=$(sed 's/.*/"&"/' "$dir/answer-$count" | paste -sd, -)
fi
id=$(printf '%s' "$req" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
printf '{"id":"%s","hosts":[%s]}\n' "$id" "$hosts"
`

type hookRequest struct {
	ID     string   `json:"id"`
	Kind   string   `json:"kind"`
	Region string   `json:"region"`
	Count  int      `json:"count"`
	Hosts  []string `json:"hosts"`
}

func readHookRequests(t *testing.T, dir string) []hookRequest {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "requests"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []hookRequest
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r hookRequest
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("hook request %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestProvisionerAskedForWhatIsMissing(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "hook.sh")
	if err := os.WriteFile(script, []byte(hookScript), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "answer-3"), "eu-new-1\neu-new-2\neu-new-3\n")
	c := newPoolCluster(t, 3, func(sc *server.Config) {
		sc.Provisioner.Command = []string{script}
		sc.Provisioner.Timeout = 40 * time.Second
		sc.Provisioner.BackoffInitial = 100 * time.Millisecond
		sc.Provisioner.BackoffMax = 500 * time.Millisecond
	})
	leader := c.Leader(10 * time.Second)
	admin := c.Coordinators[leader].Client(c.AdminToken)
	ctx := t.Context()
	pool := func() api.Pool {
		t.Helper()
		for _, co := range c.Coordinators {
			if co.Running() {
				p, err := co.Client("").Pool(ctx, "eu", api.Consistent())
				if err == nil {
					return p
				}
			}
		}
		return api.Pool{}
	}

	// An empty pool with a floor of 3 asks for 3.
	if err := retryUnavailable(func() error {
		_, err := admin.SetPoolPolicy(ctx, "eu", json.RawMessage(`{"standby_floor":3,"max_servers":10}`))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 20*time.Second, "the first request answered", func() bool {
		p := pool()
		return len(p.Requests) == 1 && p.Requests[0].Answered && p.Booting == 3
	})
	// The named hosts join one by one; nothing more is asked meanwhile.
	for i := 1; i <= 3; i++ {
		if err := admin.Register(ctx, api.Registration{Name: fmt.Sprintf("eu-new-%d", i), Region: "eu", Role: "standby",
			Address: fmt.Sprintf("10.0.0.%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	Eventually(t, 20*time.Second, "the request closed with three ready", func() bool {
		p := pool()
		return len(p.Requests) == 0 && p.Ready == 3 && p.Booting == 0
	})
	reqs := readHookRequests(t, dir)
	if len(reqs) != 1 || reqs[0].Count != 3 || reqs[0].Kind != "provision" || reqs[0].Region != "eu" {
		t.Fatalf("hook requests = %+v, want one provision of 3", reqs)
	}

	// Two allocations leave one ready: the hook is asked for two more, and
	// holds on to the request while the leader dies.
	writeFile(t, filepath.Join(dir, "hold"), "")
	for range 2 {
		if _, err := admin.Allocate(ctx, "eu", api.AllocateRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	Eventually(t, 20*time.Second, "the second request reaching the hook", func() bool {
		return len(readHookRequests(t, dir)) == 2
	})
	second := readHookRequests(t, dir)[1]
	if second.Count != 2 || second.ID == reqs[0].ID {
		t.Fatalf("second request = %+v, want 2 under a new id", second)
	}
	c.Coordinators[leader].Kill()
	newLeader := c.Leader(20 * time.Second)
	Eventually(t, 30*time.Second, "the new leader repeating the request", func() bool {
		return len(readHookRequests(t, dir)) >= 3
	})
	writeFile(t, filepath.Join(dir, "answer-2"), "eu-new-4\neu-new-5\n")
	if err := os.Remove(filepath.Join(dir, "hold")); err != nil {
		t.Fatal(err)
	}
	admin = c.Coordinators[newLeader].Client(c.AdminToken)
	Eventually(t, 20*time.Second, "the repeated request answered", func() bool {
		p := pool()
		return len(p.Requests) == 1 && p.Requests[0].Answered && p.Booting == 2
	})
	for i := 4; i <= 5; i++ {
		if err := admin.Register(ctx, api.Registration{Name: fmt.Sprintf("eu-new-%d", i), Region: "eu", Role: "standby",
			Address: fmt.Sprintf("10.0.0.%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	Eventually(t, 20*time.Second, "the pool back at its floor", func() bool {
		p := pool()
		return len(p.Requests) == 0 && p.Ready == 3 && p.Booting == 0
	})
	// Exactly what was missing, 3 then 2, under two ids; a repeat after the
	// leader change carries the same id and count.
	counts := map[string]int{}
	for _, r := range readHookRequests(t, dir) {
		if r.Kind != "provision" {
			continue
		}
		if prev, ok := counts[r.ID]; ok && prev != r.Count {
			t.Fatalf("request %s repeated with count %d, first %d", r.ID, r.Count, prev)
		}
		counts[r.ID] = r.Count
	}
	if len(counts) != 2 || counts[reqs[0].ID] != 3 || counts[second.ID] != 2 {
		t.Fatalf("hook asked for %v, want %s=3 and %s=2", counts, reqs[0].ID, second.ID)
	}

	// Two more standby hosts than the floor: the two with the highest
	// names are released, and stop counting as ready at once.
	for _, name := range []string{"eu-zz-1", "eu-zz-2"} {
		if err := admin.Register(ctx, api.Registration{Name: name, Region: "eu", Role: "standby", Address: "10.0.0.9"}); err != nil {
			t.Fatal(err)
		}
	}
	// The hosts may be seen one tick apart: one release or two.
	Eventually(t, 20*time.Second, "the releases answered", func() bool {
		p := pool()
		if p.Ready != 3 || len(p.Requests) == 0 {
			return false
		}
		for _, r := range p.Requests {
			if r.Kind != "release" || !r.Answered {
				return false
			}
		}
		return true
	})
	var released []string
	for _, r := range readHookRequests(t, dir) {
		if r.Kind == "release" {
			released = append(released, r.Hosts...)
		}
	}
	if slices.Sort(released); strings.Join(released, ",") != "eu-zz-1,eu-zz-2" {
		t.Fatalf("released %v, want eu-zz-1 and eu-zz-2", released)
	}
	// Once the released hosts are gone the requests close.
	for _, name := range released {
		if err := admin.DeleteHost(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	Eventually(t, 20*time.Second, "the releases closed", func() bool {
		p := pool()
		return len(p.Requests) == 0 && p.Ready == 3
	})
	for _, r := range readHookRequests(t, dir) {
		if r.Kind == "provision" && counts[r.ID] == 0 {
			t.Fatalf("provision request %+v while the pool had a surplus", r)
		}
	}
}
