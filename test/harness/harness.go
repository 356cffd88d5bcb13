package harness

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/understudy/understudy/agent/hostagent"
	"github.com/understudy/understudy/coordinator/server"
	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/pkg/gossip"
)

// Cluster is a set of coordinators and agents sharing one gossip key and
// tokens.
type Cluster struct {
	t            *testing.T
	Key          string
	AdminToken   string
	AgentToken   string
	Coordinators []*Coordinator
	Agents       []*Agent
}

// Coordinator is one in-process coordinator member.
type Coordinator struct {
	*server.Server
	Config server.Config
	cancel context.CancelFunc
	done   chan error
}

// Agent is one in-process agent.
type Agent struct {
	*hostagent.Agent
	Config hostagent.Config
	cancel context.CancelFunc
	done   chan error
}

// Logger returns a logger writing to t.Log at the given level, or at the
// level named by UNDERSTUDY_TEST_LOG (debug, info, ...) when that is set.
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	if env := os.Getenv("UNDERSTUDY_TEST_LOG"); env != "" {
		level.UnmarshalText([]byte(env))
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// RaftTimings are Raft timings for loopback tests.
func RaftTimings() server.RaftTimings {
	return server.RaftTimings{Heartbeat: 300 * time.Millisecond, Election: 300 * time.Millisecond, LeaderLease: 150 * time.Millisecond}
}

// New starts n coordinators that bootstrap a cluster together.
func New(t *testing.T, n int) *Cluster {
	t.Helper()
	key, err := gossip.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, Key: key, AdminToken: "admin-" + t.Name(), AgentToken: "agent-" + t.Name()}
	for i := range n {
		cfg := server.DefaultConfig()
		cfg.NodeName = fmt.Sprintf("coord-%d", i+1)
		cfg.DataDir = t.TempDir()
		cfg.BindAddr = "127.0.0.1"
		cfg.Ports = server.Ports{}
		cfg.BootstrapExpect = n
		cfg.Encrypt = key
		cfg.ACL = server.ACLConfig{AdminToken: c.AdminToken, AgentToken: c.AgentToken}
		cfg.GossipProfile = string(gossip.ProfileFast)
		if i > 0 {
			cfg.RetryJoin = []string{c.Coordinators[0].GossipAddr()}
		}
		c.Coordinators = append(c.Coordinators, c.startCoordinator(cfg))
	}
	t.Cleanup(c.stopAll)
	return c
}

func (c *Cluster) startCoordinator(cfg server.Config) *Coordinator {
	c.t.Helper()
	s, err := server.New(cfg, Logger(c.t, slog.LevelWarn).With("node", cfg.NodeName),
		server.WithRaftTimings(RaftTimings()))
	if err != nil {
		c.t.Fatalf("start %s: %v", cfg.NodeName, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	co := &Coordinator{Server: s, Config: cfg, cancel: cancel, done: make(chan error, 1)}
	go func() { co.done <- s.Run(ctx) }()
	return co
}

// Stop shuts a coordinator down gracefully and waits for it.
func (co *Coordinator) Stop() {
	if co.cancel == nil {
		return
	}
	co.cancel()
	<-co.done
	co.cancel = nil
}

// Kill stops a coordinator abruptly (no gossip leave) and waits for it.
func (co *Coordinator) Kill() {
	if co.cancel == nil {
		return
	}
	co.Server.Kill()
	co.cancel()
	<-co.done
	co.cancel = nil
}

// Running reports whether the coordinator has not been stopped.
func (co *Coordinator) Running() bool { return co.cancel != nil }

// Client returns an API client for this coordinator with the admin token.
func (co *Coordinator) Client(token string) *api.Client {
	return api.NewClient(co.HTTPAddr(), token)
}

// Restart starts coordinator i again from its data directory on the same
// ports.
func (c *Cluster) Restart(i int) *Coordinator {
	c.t.Helper()
	old := c.Coordinators[i]
	old.Kill()
	cfg := old.Config
	cfg.Ports = server.Ports{
		Raft: port(c.t, old.RaftAddr()), Gossip: port(c.t, old.GossipAddr()),
		HTTP: port(c.t, old.HTTPAddr()), DNS: port(c.t, old.DNSAddr()),
	}
	cfg.RetryJoin = nil
	for j, o := range c.Coordinators {
		if j != i && o.Running() {
			cfg.RetryJoin = append(cfg.RetryJoin, o.GossipAddr())
		}
	}
	c.Coordinators[i] = c.startCoordinator(cfg)
	return c.Coordinators[i]
}

func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// AgentConfig returns an agent configuration that joins this cluster.
func (c *Cluster) AgentConfig(name, role string, services ...hostagent.Service) hostagent.Config {
	cfg := hostagent.DefaultConfig()
	cfg.NodeName = name
	cfg.DataDir = c.t.TempDir()
	cfg.Role = role
	cfg.BindAddr = "127.0.0.1"
	cfg.Ports = hostagent.Ports{}
	cfg.Encrypt = c.Key
	cfg.Token = c.AgentToken
	cfg.GossipProfile = string(gossip.ProfileFast)
	cfg.Services = services
	for _, co := range c.Coordinators {
		if co.Running() {
			cfg.RetryJoin = append(cfg.RetryJoin, co.GossipAddr())
		}
	}
	return cfg
}

// StartAgent starts an agent with cfg.
func (c *Cluster) StartAgent(cfg hostagent.Config, opts ...hostagent.Option) *Agent {
	c.t.Helper()
	a, err := hostagent.New(cfg, Logger(c.t, slog.LevelWarn).With("node", cfg.NodeName), opts...)
	if err != nil {
		c.t.Fatalf("start agent %s: %v", cfg.NodeName, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ag := &Agent{Agent: a, Config: cfg, cancel: cancel, done: make(chan error, 1)}
	go func() { ag.done <- a.Run(ctx) }()
	c.Agents = append(c.Agents, ag)
	return ag
}

// Stop stops an agent gracefully (it leaves the pool) and waits for it.
func (a *Agent) Stop() {
	if a.cancel == nil {
		return
	}
	a.cancel()
	<-a.done
	a.cancel = nil
}

// Kill stops an agent without leaving the pool and waits for it.
func (a *Agent) Kill() {
	if a.cancel == nil {
		return
	}
	a.Agent.Kill()
	a.cancel()
	<-a.done
	a.cancel = nil
}

func (c *Cluster) stopAll() {
	for _, a := range c.Agents {
		a.Kill()
	}
	for _, co := range c.Coordinators {
		co.Kill()
	}
}

// Leader waits for a leader among the running coordinators that every
// running coordinator knows, and returns its index.
func (c *Cluster) Leader(d time.Duration) int {
	c.t.Helper()
	idx := -1
	Eventually(c.t, d, "a raft leader known to every coordinator", func() bool {
		idx = -1
		for i, co := range c.Coordinators {
			if co.Running() && co.IsLeader() {
				idx = i
			}
		}
		if idx < 0 {
			return false
		}
		for _, co := range c.Coordinators {
			if co.Running() && co.Leader() != c.Coordinators[idx].Name() {
				return false
			}
		}
		return true
	})
	return idx
}

var ipSeq atomic.Uint32

// NextIP returns a loopback address no other test in this process uses,
// and very likely none in another process: 127.P.P.N with P from the pid.
// Linux answers on all of 127.0.0.0/8.
func NextIP() string {
	pid := os.Getpid()
	n := ipSeq.Add(1)
	return fmt.Sprintf("127.%d.%d.%d", 1+(pid>>8)%254, pid%256, 1+n%254)
}

// Eventually polls cond every 20 ms until it holds or d passes.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
