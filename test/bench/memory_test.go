//go:build bench

package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// Memory load: this many hosts of ten services each, registered by
// concurrent writers through the leader.
const (
	memoryHosts   = 1000
	memoryWriters = 8
	memoryLimit   = 90 * time.Second
)

// footprint is one coordinator's memory and Raft data at one moment.
type footprint struct {
	mem            procMemory
	raft, raftDisk int64 // apparent and on-disk bytes under data_dir/raft
}

func (c *procCluster) footprints(t *testing.T) []footprint {
	t.Helper()
	out := make([]footprint, len(c.procs))
	for i, p := range c.procs {
		m, err := readProcMemory(p.Pid())
		if err != nil {
			t.Fatal(err)
		}
		a, d, err := dirSize(filepath.Join(p.dataDir, "raft"))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = footprint{mem: m, raft: a, raftDisk: d}
	}
	return out
}

// TestCoordinatorMemory registers 1,000 hosts with 10 services each on
// three coordinator processes and compares each process's resident memory
// and Raft data with the same cluster idle.
func TestCoordinatorMemory(t *testing.T) {
	load := loadAverage()
	c := startProcCluster(t, "lan")
	l := c.leader(10 * time.Second)
	idle := c.footprints(t)

	ctx, cancel := context.WithTimeout(context.Background(), memoryLimit)
	defer cancel()
	start := time.Now()
	r := runWrites(c.procs[l].http, agentToken, memoryHosts, memoryWriters, memoryLimit, func(i int) int { return i })
	took := time.Since(start)
	if r.failed > 0 || len(r.lat) != memoryHosts {
		t.Fatalf("registered %d of %d hosts; %d refused, the first with: %v", len(r.lat), memoryHosts, r.failed, r.firstErr)
	}
	// Every replica has applied every registration before it is measured.
	for _, p := range c.procs {
		poll(t, 30*time.Second, p.Name+" to hold every host", func() bool {
			hs, err := p.client("").Hosts(ctx)
			return err == nil && len(hs) == memoryHosts
		})
	}
	loaded := c.footprints(t)

	tb := &table{
		title: fmt.Sprintf("Coordinator memory: 3 coordinator processes (lan), idle and after registering %d hosts × 10 services (%d service instances); memory in MiB", memoryHosts, memoryHosts*10),
		header: []string{"coordinator", "role", "idle VmRSS", "idle VmHWM", "loaded VmRSS", "loaded VmHWM",
			"raft dir idle (on disk)", "raft dir loaded (on disk)"},
	}
	var grow int64
	for i, p := range c.procs {
		role := "follower"
		if i == l {
			role = "leader"
		}
		tb.add(p.Name, role, mib(idle[i].mem.RSS), mib(idle[i].mem.HWM), mib(loaded[i].mem.RSS), mib(loaded[i].mem.HWM),
			fmt.Sprintf("%s (%s)", size(idle[i].raft), size(idle[i].raftDisk)),
			fmt.Sprintf("%s (%s)", size(loaded[i].raft), size(loaded[i].raftDisk)))
		grow += loaded[i].mem.RSS - idle[i].mem.RSS
	}
	tb.note("Registering took %v (%.0f writes/s, %d writers, p50 %s ms, p99 %s ms); VmRSS grew by %.1f KiB per host on average over the three processes.",
		took.Round(time.Millisecond), float64(memoryHosts)/took.Seconds(), memoryWriters,
		ms(summarize(r.lat).P50), ms(summarize(r.lat).P99), float64(grow)/3/memoryHosts/1024)
	tb.note("Load average (1, 5, 15 min) at start: %s; at end: %s.", load, loadAverage())
	tb.print()
}
