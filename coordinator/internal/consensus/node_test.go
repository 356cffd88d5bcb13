package consensus

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// logFSM is a minimal deterministic state machine: it records applied
// entries in order.
type logFSM struct {
	mu      sync.Mutex
	entries []string
}

func (f *logFSM) Apply(_ uint64, e []byte) error {
	if bytes.HasPrefix(e, []byte("bad")) {
		return fmt.Errorf("rejected %q", e)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, string(e))
	return nil
}

func (f *logFSM) Snapshot() io.WriterTo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.NewReader(strings.Join(f.entries, "\n"))
}

func (f *logFSM) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = nil
	if len(b) > 0 {
		f.entries = strings.Split(string(b), "\n")
	}
	return nil
}

func (f *logFSM) get() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.entries...)
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testConfig(t *testing.T, id, dir string) Config {
	c := FastConfig()
	c.ID, c.DataDir, c.BindAddr = id, dir, "127.0.0.1:0"
	// Loose enough that a loaded machine running the race detector does
	// not lose its leader mid-test.
	c.HeartbeatTimeout = 500 * time.Millisecond
	c.ElectionTimeout = 500 * time.Millisecond
	c.LeaderLeaseTimeout = 250 * time.Millisecond
	c.Logger = slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return c
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func leaderOf(nodes []*Node) *Node {
	for _, n := range nodes {
		if n != nil && n.IsLeader() {
			return n
		}
	}
	return nil
}

// apply commits an entry through whichever node leads, retrying while
// leadership moves; it returns the FSM's verdict.
func apply(t *testing.T, nodes []*Node, entry string) error {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l := leaderOf(nodes)
		if l != nil {
			err := l.Apply(t.Context(), []byte(entry))
			if !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrNoLeader) {
				return err
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader accepted %q", entry)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestClusterElectsReplicatesAndSurvivesLeaderLoss(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	fsms := []*logFSM{{}, {}, {}}
	nodes := make([]*Node, 3)
	var servers []Server
	for i := range nodes {
		n, err := New(testConfig(t, fmt.Sprintf("c%d", i), dirs[i]), fsms[i])
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = n
		servers = append(servers, Server{ID: n.ID(), Address: n.Addr()})
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			if n != nil {
				n.Shutdown()
			}
		}
	})
	for _, n := range nodes {
		if err := n.Bootstrap(servers); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "a leader", func() bool { return leaderOf(nodes) != nil })
	leader := leaderOf(nodes)

	// A follower refuses writes: it is not the leader (or does not know
	// one yet).
	for _, n := range nodes {
		if n != leader {
			if err := n.Apply(ctx, []byte("x")); !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrNoLeader) {
				t.Fatalf("follower Apply = %v, want ErrNotLeader or ErrNoLeader", err)
			}
			break
		}
	}
	// A rejected entry reports the FSM's error.
	if err := apply(t, nodes, "bad entry"); err == nil || !strings.Contains(err.Error(), "rejected") {
		t.Fatalf("Apply(bad) = %v, want FSM rejection", err)
	}
	for i := range 5 {
		if err := apply(t, nodes, fmt.Sprintf("e%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i, f := range fsms {
		waitFor(t, 5*time.Second, fmt.Sprintf("replication to node %d", i), func() bool { return len(f.get()) == 5 })
	}

	// Kill the leader hard; the others elect a new one and keep going.
	var old int
	for i, n := range nodes {
		if n == leader {
			old = i
		}
	}
	leader.Shutdown()
	nodes[old] = nil
	waitFor(t, 5*time.Second, "a new leader", func() bool { return leaderOf(nodes) != nil })
	if err := apply(t, nodes, "after"); err != nil {
		t.Fatal(err)
	}
	newLeader := leaderOf(nodes)

	// The old leader restarts from its data directory with its state and
	// catches up.
	restarted, err := New(testConfig(t, fmt.Sprintf("c%d", old), dirs[old]), &logFSM{})
	if err != nil {
		t.Fatal(err)
	}
	nodes[old] = restarted
	if !restarted.HasState() {
		t.Fatal("restarted node has no state")
	}
	if err := newLeader.AddVoter(ctx, restarted.ID(), restarted.Addr()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "restarted node to catch up", func() bool {
		return restarted.AppliedIndex() >= newLeader.AppliedIndex()
	})
	srv, err := newLeader.Servers()
	if err != nil || len(srv) != 3 {
		t.Fatalf("Servers = %v, %v; want 3", srv, err)
	}
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	fsm := &logFSM{}
	n, err := New(testConfig(t, "solo", dir), fsm)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Bootstrap([]Server{{ID: n.ID(), Address: n.Addr()}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "leadership", n.IsLeader)
	for i := range 10 {
		if err := n.Apply(ctx, fmt.Appendf(nil, "e%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	want := fsm.get()
	n.Shutdown()

	// On restart the state comes back from the snapshot plus the log.
	fsm2 := &logFSM{}
	n2, err := New(testConfig(t, "solo", dir), fsm2)
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Shutdown()
	waitFor(t, 5*time.Second, "restored state", func() bool { return len(fsm2.get()) == len(want) })
	if got := fsm2.get(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("restored %v, want %v", got, want)
	}
}
