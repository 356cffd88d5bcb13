//go:build bench

package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/test/harness"
)

// Write load: every row sends this many Register calls, split over its
// writers, and stops early if the time limit passes first.
const (
	latencyWrites     = 2000
	latencyHosts      = 200 // registrations cycle over this many host names
	latencyWarmup     = latencyHosts
	latencyRowLimit   = 30 * time.Second
	concurrentWriters = 8
)

// registration returns the registration of host i with ten services,
// the shape of a region-simulator host.
func registration(i int) api.Registration {
	r := api.Registration{
		Name: fmt.Sprintf("host-%04d", i), Region: "bench", Role: "active",
		Address: fmt.Sprintf("127.1.%d.%d", i/250, i%250+1),
	}
	for j := range 10 {
		r.Services = append(r.Services, api.ServiceDef{
			Name: fmt.Sprintf("region-%05d", i*10+j), Grid: "bench", Port: 9000 + j,
			Tags: []string{"sim"}, Primary: true,
		})
	}
	return r
}

// writeRun is the outcome of one bounded write load.
type writeRun struct {
	lat      []time.Duration // of the writes that succeeded
	failed   int
	firstErr error
	wall     time.Duration
}

// runWrites sends total registrations to addr from writers goroutines, each
// with its own client, and times every call. It stops early when limit
// passes. Write i registers host pick(i). A refused write (for example a
// 503 while leadership moves) is counted, not retried.
func runWrites(addr, token string, total, writers int, limit time.Duration, pick func(i int) int) writeRun {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var (
		mu sync.Mutex // guards r
		r  = writeRun{lat: make([]time.Duration, 0, total)}
		wg sync.WaitGroup
	)
	start := time.Now()
	for w := range writers {
		wg.Go(func() {
			c := api.NewClient(addr, token)
			for i := w; i < total && ctx.Err() == nil; i += writers {
				t0 := time.Now()
				err := c.Register(ctx, registration(pick(i)))
				d := time.Since(t0)
				mu.Lock()
				switch {
				case err == nil:
					r.lat = append(r.lat, d)
				case ctx.Err() == nil:
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

// cycle makes the latency loads upsert the same latencyHosts hosts over and
// over, so that the catalogue stays the same size during a row.
func cycle(i int) int { return i % latencyHosts }

// leaderWatch polls who leads while a load runs.
type leaderWatch struct {
	stop    chan struct{}
	done    chan struct{}
	changes int // written by the polling goroutine, read after done
}

// watchLeader calls leader every 20 ms until [leaderWatch.finish] and counts
// how often the named leader changes; an empty name (no leader, or no
// answer) is not a change by itself.
func watchLeader(leader func() string) *leaderWatch {
	w := &leaderWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		last := leader()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			if now := leader(); now != "" {
				if last != "" && now != last {
					w.changes++
				}
				last = now
			}
		}
	}()
	return w
}

// finish stops the polling and returns the number of leader changes seen.
func (w *leaderWatch) finish() int {
	close(w.stop)
	<-w.done
	return w.changes
}

// target is a coordinator that writes are sent to.
type target struct {
	role string // leader or follower
	addr string
}

// measureWrites first registers every host through the first target, so
// that every timed write is an update of a catalogue of the same size.
// Then, for one writer and for several, it runs the load against each
// target in turn and adds a row to tb, with the number of leader changes
// that leader (who leads now, "" if unknown) showed meanwhile. It fails the
// test only when no write at all succeeded.
func measureWrites(t *testing.T, tb *table, setup string, targets []target, token string, leader func() string) {
	t.Helper()
	if r := runWrites(targets[0].addr, token, latencyWarmup, 1, latencyRowLimit, cycle); r.failed > 0 {
		t.Fatalf("%s: warm-up: %d writes refused, the first with: %v", setup, r.failed, r.firstErr)
	}
	for _, writers := range []int{1, concurrentWriters} {
		for _, tg := range targets {
			w := watchLeader(leader)
			r := runWrites(tg.addr, token, latencyWrites, writers, latencyRowLimit, cycle)
			changes := w.finish()
			if r.failed > 0 {
				tb.note("%s, sent to the %s, %d writers: %d writes refused, the first with: %v.", setup, tg.role, writers, r.failed, r.firstErr)
			}
			if len(r.lat) == 0 {
				t.Fatalf("%s, %s, %d writers: no write succeeded", setup, tg.role, writers)
			}
			s := summarize(r.lat)
			tb.add(setup, tg.role, fmt.Sprint(writers), fmt.Sprint(s.N), fmt.Sprint(r.failed),
				ms(s.Mean), ms(s.P50), ms(s.P99), ms(s.Max),
				fmt.Sprintf("%.0f", float64(s.N)/r.wall.Seconds()), fmt.Sprint(changes))
		}
	}
}

// Disk probe: this many 4 KiB appends, each followed by fdatasync, in the
// directory the coordinators keep their data in.
const fsyncProbes = 200

// measureFsync times appends with fdatasync in dir, the floor under every
// Raft write, which is fsynced by the leader and by each follower.
func measureFsync(t *testing.T, dir string) summary {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "fsync-probe"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	lat := make([]time.Duration, 0, fsyncProbes)
	deadline := time.Now().Add(10 * time.Second)
	for range fsyncProbes {
		if time.Now().After(deadline) {
			break
		}
		t0 := time.Now()
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			t.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	return summarize(lat)
}

func newLatencyTable() *table {
	return &table{
		title:  fmt.Sprintf("Write latency: Register (PUT /v1/register, one host with 10 services) on 3 coordinators, %d writes per row, updates of %d hosts registered beforehand; times in ms", latencyWrites, latencyHosts),
		header: []string{"setup", "sent to", "writers", "ok", "refused", "mean", "p50", "p99", "max", "writes/s", "leader changes"},
	}
}

// TestWriteLatency times Register calls sent to the leader and to a
// follower (which forwards them), one writer at a time and eight at once,
// on three coordinator processes and then on an in-process cluster.
func TestWriteLatency(t *testing.T) {
	tb := newLatencyTable()
	load := loadAverage()
	fs := measureFsync(t, t.TempDir())
	tb.note("The disk under the data directories: a 4 KiB append with fdatasync took p50 %s ms, p99 %s ms, max %s ms (%d probes).",
		ms(fs.P50), ms(fs.P99), ms(fs.Max), fs.N)
	t.Run("processes", func(t *testing.T) {
		c := startProcCluster(t, "lan")
		l := c.leader(10 * time.Second)
		f := c.follower(l)
		// The first coordinator that names a leader answers.
		leader := func() string {
			for _, p := range c.procs {
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				got, err := p.client("").Leader(ctx)
				cancel()
				if err == nil && got.ID != "" {
					return got.ID
				}
			}
			return ""
		}
		measureWrites(t, tb, "3 processes, lan",
			[]target{{"leader", c.procs[l].http}, {"follower", c.procs[f].http}}, agentToken, leader)
	})
	t.Run("in-process", func(t *testing.T) {
		c := harness.New(t, 3)
		l := c.Leader(30 * time.Second)
		f := (l + 1) % len(c.Coordinators)
		leader := func() string {
			for _, co := range c.Coordinators {
				if co.Running() && co.IsLeader() {
					return co.Name()
				}
			}
			return ""
		}
		measureWrites(t, tb, "in-process (harness)",
			[]target{{"leader", c.Coordinators[l].HTTPAddr()}, {"follower", c.Coordinators[f].HTTPAddr()}}, c.AgentToken, leader)
	})
	tb.note("Load average (1, 5, 15 min) at start: %s; at end: %s.", load, loadAverage())
	tb.print()
}
