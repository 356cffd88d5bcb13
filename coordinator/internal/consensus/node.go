package consensus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// Errors callers branch on.
var (
	// ErrNotLeader means this node cannot accept the write: send it to the
	// leader.
	ErrNotLeader = errors.New("not the raft leader")
	// ErrNoLeader means the cluster has no leader right now.
	ErrNoLeader = errors.New("no raft leader")
	// ErrShutdown means the node has been shut down.
	ErrShutdown = errors.New("raft node shut down")
)

// FSM is the state machine replicated by Raft. Apply is called from a single
// goroutine in log order and must be deterministic; Snapshot and Restore
// follow hashicorp/raft's FSM contract (Snapshot is quick and the returned
// value is written out while Apply continues).
type FSM interface {
	// Apply applies the entry at index and returns nil or the reason the
	// entry was rejected (a rejected entry changes nothing).
	Apply(index uint64, entry []byte) error
	// Snapshot returns a point-in-time copy to be written out.
	Snapshot() io.WriterTo
	// Restore replaces the state with a snapshot.
	Restore(r io.Reader) error
}

// Config configures a Raft node.
type Config struct {
	// ID is this server's unique, stable identity (the node name).
	ID string
	// DataDir holds raft.db and snapshots/.
	DataDir string
	// BindAddr is the TCP address to listen on; port 0 picks one.
	BindAddr string
	// AdvertiseAddr is the address peers dial; empty means BindAddr as bound.
	AdvertiseAddr string

	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	SnapshotThreshold  uint64
	SnapshotInterval   time.Duration
	// TrailingLogs is how many entries are kept after a snapshot.
	TrailingLogs uint64

	Logger *slog.Logger
	// OnLeaderChange, when set, is called each time this node learns of a
	// new leader, with its ID ("" when the node lost its leader). Calls come
	// one at a time from a goroutine of the node; a slow callback makes
	// the node drop (not delay) later observations.
	OnLeaderChange func(leaderID string)
}

// DefaultConfig returns production timings (Raft's defaults).
func DefaultConfig() Config {
	d := raft.DefaultConfig()
	return Config{
		BindAddr:           "0.0.0.0:8300",
		HeartbeatTimeout:   d.HeartbeatTimeout,
		ElectionTimeout:    d.ElectionTimeout,
		LeaderLeaseTimeout: d.LeaderLeaseTimeout,
		CommitTimeout:      d.CommitTimeout,
		SnapshotThreshold:  d.SnapshotThreshold,
		SnapshotInterval:   d.SnapshotInterval,
		TrailingLogs:       d.TrailingLogs,
	}
}

// FastConfig returns DefaultConfig with timings for a LAN or loopback where
// a lost leader should be replaced in well under a second.
func FastConfig() Config {
	c := DefaultConfig()
	c.HeartbeatTimeout = 200 * time.Millisecond
	c.ElectionTimeout = 200 * time.Millisecond
	c.LeaderLeaseTimeout = 100 * time.Millisecond
	c.CommitTimeout = 10 * time.Millisecond
	return c
}

// Server is one member of the Raft configuration.
type Server struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Voter   bool   `json:"voter"`
	Leader  bool   `json:"leader"`
}

// Node is a running Raft member.
type Node struct {
	raft   *raft.Raft
	trans  *raft.NetworkTransport
	store  *raftboltdb.BoltStore
	id     string
	logger *slog.Logger

	// observer and observed are set when Config.OnLeaderChange is: the
	// observation channel's reader closes observed when it ends.
	observer *raft.Observer
	obsCh    chan raft.Observation
	observed chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// New opens the data directory and starts the node. A node with existing
// state rejoins its cluster; a new one waits for [Node.Bootstrap] or to be
// added by a leader.
func New(cfg Config, fsm FSM) (*Node, error) {
	if cfg.ID == "" {
		return nil, errors.New("raft: node id is empty")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("raft: data dir is empty")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	dir := filepath.Join(cfg.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("raft data dir: %w", err)
	}
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		return nil, fmt.Errorf("open raft log %s: %w", filepath.Join(dir, "raft.db"), err)
	}
	hcl := newHCLogger(cfg.Logger)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hcl)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("raft snapshot store: %w", err)
	}
	stream, err := newStreamLayer(cfg.BindAddr, cfg.AdvertiseAddr)
	if err != nil {
		store.Close()
		return nil, err
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  hcl,
	})

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.Logger = hcl
	setIf(&rc.HeartbeatTimeout, cfg.HeartbeatTimeout)
	setIf(&rc.ElectionTimeout, cfg.ElectionTimeout)
	setIf(&rc.LeaderLeaseTimeout, cfg.LeaderLeaseTimeout)
	setIf(&rc.CommitTimeout, cfg.CommitTimeout)
	setIf(&rc.SnapshotInterval, cfg.SnapshotInterval)
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
	}
	if cfg.TrailingLogs > 0 {
		rc.TrailingLogs = cfg.TrailingLogs
	}
	if err := raft.ValidateConfig(rc); err != nil {
		trans.Close()
		store.Close()
		return nil, fmt.Errorf("raft config: %w", err)
	}
	r, err := raft.NewRaft(rc, fsmAdapter{fsm}, store, store, snaps, trans)
	if err != nil {
		trans.Close()
		store.Close()
		return nil, fmt.Errorf("start raft: %w", err)
	}
	n := &Node{raft: r, trans: trans, store: store, id: cfg.ID, logger: cfg.Logger}
	if cfg.OnLeaderChange != nil {
		n.observeLeader(cfg.OnLeaderChange)
	}
	return n, nil
}

// observeLeader registers a Raft observer of leader changes and feeds fn
// from it until Shutdown.
func (n *Node) observeLeader(fn func(string)) {
	n.obsCh = make(chan raft.Observation, 16)
	n.observed = make(chan struct{})
	n.observer = raft.NewObserver(n.obsCh, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	n.raft.RegisterObserver(n.observer)
	go func() {
		defer close(n.observed)
		for o := range n.obsCh {
			fn(string(o.Data.(raft.LeaderObservation).LeaderID))
		}
	}()
}

func setIf(dst *time.Duration, v time.Duration) {
	if v > 0 {
		*dst = v
	}
}

// ID returns this node's server ID.
func (n *Node) ID() string { return n.id }

// Addr returns the address peers reach this node's transport on.
func (n *Node) Addr() string { return string(n.trans.LocalAddr()) }

// HasState reports whether the node has a log or snapshot, that is, whether
// it has ever been part of a cluster.
func (n *Node) HasState() bool {
	last := n.raft.LastIndex()
	return last > 0
}

// Bootstrap starts a new cluster with the given voters (which must include
// this node). It is a no-op returning nil on a node that already has state.
func (n *Node) Bootstrap(servers []Server) error {
	if n.HasState() {
		return nil
	}
	var cfg raft.Configuration
	for _, s := range servers {
		cfg.Servers = append(cfg.Servers, raft.Server{
			Suffrage: raft.Voter, ID: raft.ServerID(s.ID), Address: raft.ServerAddress(s.Address),
		})
	}
	err := n.raft.BootstrapCluster(cfg).Error()
	if errors.Is(err, raft.ErrCantBootstrap) {
		return nil
	}
	return err
}

// Apply commits an entry through the log and returns the FSM's verdict. The
// timeout is ctx's deadline (5 s when it has none).
func (n *Node) Apply(ctx context.Context, entry []byte) error {
	f := n.raft.Apply(entry, timeout(ctx))
	if err := n.mapErr(f.Error()); err != nil {
		return err
	}
	if resp, ok := f.Response().(error); ok && resp != nil {
		return resp
	}
	return nil
}

// VerifyLeader confirms that this node is still the leader, for
// linearisable reads.
func (n *Node) VerifyLeader(ctx context.Context) error {
	return n.waitFuture(ctx, n.raft.VerifyLeader())
}

// Barrier waits until every entry committed before the call is applied to
// the local FSM.
func (n *Node) Barrier(ctx context.Context) error {
	return n.mapErr(n.raft.Barrier(timeout(ctx)).Error())
}

func (n *Node) waitFuture(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return n.mapErr(err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (n *Node) mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		if addr, _ := n.raft.LeaderWithID(); addr == "" {
			return fmt.Errorf("%w: %w", ErrNoLeader, err)
		}
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrShutdown
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %w", ErrNoLeader, err)
	}
	return err
}

func timeout(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		if t := time.Until(d); t > 0 {
			return t
		}
		return time.Millisecond
	}
	return 5 * time.Second
}

// IsLeader reports whether this node is the leader right now.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// State returns "Leader", "Follower", "Candidate" or "Shutdown".
func (n *Node) State() string { return n.raft.State().String() }

// Leader returns the current leader's ID and address, empty when unknown.
func (n *Node) Leader() (id, addr string) {
	a, i := n.raft.LeaderWithID()
	return string(i), string(a)
}

// LeaderCh signals leadership changes of this node (true: became leader).
func (n *Node) LeaderCh() <-chan bool { return n.raft.LeaderCh() }

// LastContact is the last time this node heard from a leader (now, on the
// leader itself).
func (n *Node) LastContact() time.Time {
	if n.IsLeader() {
		return time.Now()
	}
	return n.raft.LastContact()
}

// Term is the current Raft term; it changes with every election.
func (n *Node) Term() uint64 { return n.raft.CurrentTerm() }

// AppliedIndex is the index of the last entry applied to the FSM.
func (n *Node) AppliedIndex() uint64 { return n.raft.AppliedIndex() }

// Servers returns the latest Raft configuration.
func (n *Node) Servers() ([]Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, n.mapErr(err)
	}
	leaderAddr, leaderID := n.raft.LeaderWithID()
	var out []Server
	for _, s := range f.Configuration().Servers {
		out = append(out, Server{
			ID:      string(s.ID),
			Address: string(s.Address),
			Voter:   s.Suffrage == raft.Voter,
			Leader:  s.ID == leaderID && s.Address == leaderAddr,
		})
	}
	return out, nil
}

// AddVoter adds (or re-addresses) a voting member. Leader only.
func (n *Node) AddVoter(ctx context.Context, id, addr string) error {
	return n.mapErr(n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, timeout(ctx)).Error())
}

// RemoveServer removes a member. Leader only.
func (n *Node) RemoveServer(ctx context.Context, id string) error {
	return n.mapErr(n.raft.RemoveServer(raft.ServerID(id), 0, timeout(ctx)).Error())
}

// Snapshot forces a snapshot now.
func (n *Node) Snapshot() error { return n.mapErr(n.raft.Snapshot().Error()) }

// Stats returns Raft's diagnostic counters.
func (n *Node) Stats() map[string]string { return n.raft.Stats() }

// Shutdown stops the node without leaving the cluster, as a crash would from
// the others' point of view, and closes its files. It is idempotent.
func (n *Node) Shutdown() error {
	n.closeOnce.Do(func() {
		n.closeErr = n.raft.Shutdown().Error()
		if n.observer != nil {
			// Raft's goroutines have stopped: nothing sends any more.
			n.raft.DeregisterObserver(n.observer)
			close(n.obsCh)
			<-n.observed
		}
		n.trans.Close()
		if err := n.store.Close(); n.closeErr == nil {
			n.closeErr = err
		}
	})
	return n.closeErr
}

// fsmAdapter turns an FSM into raft.FSM.
type fsmAdapter struct{ fsm FSM }

func (a fsmAdapter) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	return a.fsm.Apply(l.Index, l.Data)
}

func (a fsmAdapter) Snapshot() (raft.FSMSnapshot, error) {
	return fsmSnapshot{a.fsm.Snapshot()}, nil
}

func (a fsmAdapter) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	return a.fsm.Restore(rc)
}

type fsmSnapshot struct{ w io.WriterTo }

func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.w.WriteTo(sink); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (fsmSnapshot) Release() {}
