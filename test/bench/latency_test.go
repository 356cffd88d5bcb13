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
	latencyWarmup     = 50
	latencyHosts      = 200 // registrations cycle over this many host names
	latencyRowLimit   = 30 * time.Second
	concurrentWriters = 8
)

// registration returns the registration of host i of n with ten services,
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

// measureWrites warms up addr, then runs the sequential and the concurrent
// load against it and adds a row for each to tb. It fails the test only
// when no write at all succeeded.
func measureWrites(t *testing.T, tb *table, setup, target, addr, token string) {
	t.Helper()
	runWrites(addr, token, latencyWarmup, 1, latencyRowLimit, cycle)
	for _, writers := range []int{1, concurrentWriters} {
		r := runWrites(addr, token, latencyWrites, writers, latencyRowLimit, cycle)
		if r.failed > 0 {
			tb.note("%s, sent to the %s, %d writers: %d writes refused, the first with: %v.", setup, target, writers, r.failed, r.firstErr)
		}
		if len(r.lat) == 0 {
			t.Fatalf("%s, %s, %d writers: no write succeeded", setup, target, writers)
		}
		s := summarize(r.lat)
		tb.add(setup, target, fmt.Sprint(writers), fmt.Sprint(s.N), fmt.Sprint(r.failed),
			ms(s.Mean), ms(s.P50), ms(s.P99), ms(s.Max),
			fmt.Sprintf("%.0f", float64(s.N)/r.wall.Seconds()))
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
		title:  fmt.Sprintf("Write latency: Register (PUT /v1/register, one host with 10 services) on 3 coordinators, %d writes per row after %d warm-up writes; times in ms", latencyWrites, latencyWarmup),
		header: []string{"setup", "sent to", "writers", "ok", "refused", "mean", "p50", "p99", "max", "writes/s"},
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
		measureWrites(t, tb, "3 processes, lan", "leader", c.procs[l].http, agentToken)
		measureWrites(t, tb, "3 processes, lan", "follower", c.procs[f].http, agentToken)
		if now := c.leader(10 * time.Second); now != l {
			tb.note("3 processes: leadership moved from %s to %s during the run.", c.procs[l].name, c.procs[now].name)
		}
	})
	t.Run("in-process", func(t *testing.T) {
		c := harness.New(t, 3)
		l := c.Leader(30 * time.Second)
		f := (l + 1) % len(c.Coordinators)
		measureWrites(t, tb, "in-process (harness)", "leader", c.Coordinators[l].HTTPAddr(), c.AgentToken)
		measureWrites(t, tb, "in-process (harness)", "follower", c.Coordinators[f].HTTPAddr(), c.AgentToken)
		if now := c.Leader(10 * time.Second); now != l {
			tb.note("In-process: leadership moved from coord-%d to coord-%d during the run.", l+1, now+1)
		}
	})
	tb.note("Load average (1, 5, 15 min) at start: %s; at end: %s.", load, loadAverage())
	tb.print()
}
