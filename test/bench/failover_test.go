//go:build bench

package bench

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"
)

// Failover runs: each starts a fresh cluster, so that every run measures
// the same situation (three healthy members, one SIGKILLed).
const (
	failoverRuns  = 10
	failoverLimit = 30 * time.Second // per run, from the kill
)

// failoverRun is one measured failover.
type failoverRun struct {
	leader time.Duration // kill → a survivor names a new leader
	write  time.Duration // kill → a write through that survivor succeeds
}

// measureFailover SIGKILLs the leader of c and times the recovery.
func measureFailover(t *testing.T, c *procCluster) failoverRun {
	t.Helper()
	l := c.leader(30 * time.Second)
	old := c.procs[l]
	ctx := context.Background()
	// The cluster must take writes before the kill.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := old.client(agentToken).Register(wctx, registration(0))
	cancel()
	if err != nil {
		t.Fatalf("write before the kill: %v", err)
	}

	t0 := time.Now()
	if err := old.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := t0.Add(failoverLimit)
	var (
		r       failoverRun
		through *coordProc
	)
	for through == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no survivor named a new leader within %v of the kill", failoverLimit)
		}
		for i, p := range c.procs {
			if i == l {
				continue
			}
			qctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			got, err := p.client("").Leader(qctx)
			cancel()
			if err == nil && got.ID != "" && got.ID != old.Name {
				r.leader, through = time.Since(t0), p
				break
			}
		}
		if through == nil {
			time.Sleep(5 * time.Millisecond)
		}
	}
	cl := through.client(agentToken)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("no write through %s within %v of the kill", through.Name, failoverLimit)
		}
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		err := cl.Register(wctx, registration(1))
		cancel()
		if err == nil {
			r.write = time.Since(t0)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	old.Kill() // already SIGKILLed: waits for it to be gone
	return r
}

// median returns the middle of ds, or the mean of the two middle values.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// TestLeaderFailover measures the time from SIGKILL of the leader process
// to a new leader and to the first accepted write, ten times with each
// gossip profile.
func TestLeaderFailover(t *testing.T) {
	tb := &table{
		title: fmt.Sprintf("Time to a new leader after SIGKILL of the leader process, 3 coordinator processes, %d runs per profile, each on a fresh cluster; times in ms (median / min / max)", failoverRuns),
		header: []string{"gossip profile", "raft heartbeat / election timeout", "runs",
			"new leader named: median", "min", "max", "write accepted: median", "min", "max"},
	}
	load := loadAverage()
	for _, profile := range []struct{ name, timings string }{
		{"fast", "200 ms / 200 ms"},
		{"lan", "1 s / 1 s"},
	} {
		t.Run(profile.name, func(t *testing.T) {
			var leaders, writes []time.Duration
			for run := range failoverRuns {
				c := startProcCluster(t, profile.name)
				r := measureFailover(t, c)
				c.killAll()
				t.Logf("run %d: new leader named after %v, write accepted after %v", run+1, r.leader, r.write)
				leaders = append(leaders, r.leader)
				writes = append(writes, r.write)
			}
			ls, ws := summarize(leaders), summarize(writes)
			tb.add(profile.name, profile.timings, fmt.Sprint(len(leaders)),
				ms(median(leaders)), ms(ls.Min), ms(ls.Max),
				ms(median(writes)), ms(ws.Min), ms(ws.Max))
		})
	}
	tb.note("Load average (1, 5, 15 min) at start: %s; at end: %s.", load, loadAverage())
	tb.print()
}
