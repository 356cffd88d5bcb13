package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/understudy/understudy/coordinator/internal/catalog"
	"github.com/understudy/understudy/coordinator/internal/consensus"
	"github.com/understudy/understudy/coordinator/internal/dns"
	"github.com/understudy/understudy/coordinator/internal/httpapi"
	"github.com/understudy/understudy/coordinator/internal/login"
	"github.com/understudy/understudy/coordinator/internal/provision"
	"github.com/understudy/understudy/coordinator/internal/ui"
	"github.com/understudy/understudy/pkg/gossip"
)

// Server is a running coordinator member.
type Server struct {
	cfg    Config
	logger *slog.Logger

	catalog *catalog.Catalog
	raft    *consensus.Node
	pool    *gossip.Pool
	dns     *dns.Server
	login   *login.Front
	// restartHook asks the provisioner to restart machines whose agent is
	// gone; nil without a provisioner.
	restartHook *provision.Client
	httpLn      net.Listener
	http        *http.Server
	metrics     *serverMetrics

	// Version is reported in gossip metadata.
	version string

	raftTimings *RaftTimings

	// Timings, shortened by tests.
	reconcileInterval time.Duration
	joinInterval      time.Duration
	// absentGrace is how long a new leader waits before it counts hosts
	// unknown to gossip as failed.
	absentGrace time.Duration

	leaseMu    sync.Mutex // guards termLeases
	termLeases termLeases

	closeOnce sync.Once
}

// Option adjusts a Server beyond its file configuration.
type Option func(*Server)

// WithVersion sets the version gossiped to other members.
func WithVersion(v string) Option { return func(s *Server) { s.version = v } }

// RaftTimings are Raft's failure detection timings.
type RaftTimings struct {
	Heartbeat, Election, LeaderLease time.Duration
}

// WithRaftTimings replaces Raft's timings, for tests and dev mode.
func WithRaftTimings(t RaftTimings) Option {
	return func(s *Server) { s.raftTimings = &t }
}

// New validates cfg, opens the data directory and binds every listener, so
// that the Addr methods report real addresses before Run.
func New(cfg Config, logger *slog.Logger, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg: cfg, logger: logger, catalog: catalog.New(), version: "dev",
		reconcileInterval: 250 * time.Millisecond, joinInterval: 2 * time.Second, absentGrace: 10 * time.Second,
	}
	for _, o := range opts {
		o(s)
	}
	s.metrics = newMetrics(s)
	ok := false
	defer func() {
		if !ok {
			s.closeAll()
		}
	}()
	ip := cfg.advertiseIP()

	rc := consensus.DefaultConfig()
	if cfg.GossipProfile == string(gossip.ProfileFast) {
		rc = consensus.FastConfig()
	}
	if t := s.raftTimings; t != nil {
		rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = t.Heartbeat, t.Election, t.LeaderLease
	}
	rc.ID = cfg.NodeName
	rc.DataDir = cfg.DataDir
	rc.BindAddr = net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.Ports.Raft))
	rc.AdvertiseAddr = net.JoinHostPort(ip, "0")
	if cfg.Ports.Raft != 0 {
		rc.AdvertiseAddr = net.JoinHostPort(ip, strconv.Itoa(cfg.Ports.Raft))
	}
	rc.Logger = logger.With("component", "raft")
	rc.OnLeaderChange = s.metrics.onLeaderChange()
	var err error
	if s.raft, err = consensus.New(rc, s.catalog); err != nil {
		return nil, err
	}

	dcfg := dns.DefaultConfig()
	dcfg.Zone, dcfg.TTL, dcfg.NegativeTTL = cfg.DNS.Zone, cfg.DNS.TTL, cfg.DNS.NegativeTTL
	dcfg.MaxStale, dcfg.RateLimit = cfg.DNS.MaxStale, cfg.DNS.RateLimit
	dcfg.Addr = net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.Ports.DNS))
	dcfg.Staleness = s.staleness
	dcfg.NameServers = s.nameServers
	dcfg.Logger = logger.With("component", "dns")
	dcfg.Observe = s.metrics.observeDNS
	if s.dns, err = dns.New(dcfg, s.catalog); err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}

	if s.login, err = s.newLoginFront(); err != nil {
		return nil, fmt.Errorf("login front: %w", err)
	}

	if s.httpLn, err = net.Listen("tcp", net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.Ports.HTTP))); err != nil {
		return nil, fmt.Errorf("http listen: %w", err)
	}
	api := httpapi.New(httpapi.Config{
		AdminToken: cfg.ACL.AdminToken, AgentToken: cfg.ACL.AgentToken,
		Logger: logger.With("component", "http"),
	}, backend{s})
	mux := http.NewServeMux()
	mux.Handle("/v1/", api)
	mux.Handle("GET /metrics", s.metrics.reg.Handler())
	mux.Handle(ui.Prefix, ui.Handler())
	mux.Handle("GET /{$}", http.RedirectHandler(ui.Prefix, http.StatusFound))
	s.http = &http.Server{
		Handler:           s.metrics.reg.HTTP(mux),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.With("component", "http").Handler(), slog.LevelWarn),
	}

	gcfg := gossip.DefaultConfig()
	gcfg.NodeName = cfg.NodeName
	gcfg.BindAddr = cfg.BindAddr
	gcfg.BindPort = cfg.Ports.Gossip
	if cfg.AdvertiseAddr != "" {
		gcfg.AdvertiseAddr = cfg.AdvertiseAddr
	}
	gcfg.Profile = gossip.Profile(cfg.GossipProfile)
	if cfg.Encrypt != "" {
		gcfg.Key, _ = gossip.ParseKey(cfg.Encrypt) // checked by Validate
	}
	gcfg.Meta = gossip.Meta{
		Kind: gossip.KindCoordinator, HostID: cfg.NodeName, Region: cfg.Region, Version: s.version,
		RaftAddr: s.raft.Addr(),
		HTTPAddr: withIP(s.httpLn.Addr().String(), ip),
		DNSAddr:  withIP(s.dns.Addr(), ip),
	}
	gcfg.Logger = logger.With("component", "gossip")
	gcfg.OnProbe = s.metrics.observeProbe
	if s.pool, err = gossip.New(gcfg); err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	ok = true
	return s, nil
}

// withIP replaces the host of a bound address (maybe 0.0.0.0) with the
// advertised IP.
func withIP(bound, ip string) string {
	_, port, err := net.SplitHostPort(bound)
	if err != nil {
		return bound
	}
	return net.JoinHostPort(ip, port)
}

// HTTPAddr is the bound admin API address.
func (s *Server) HTTPAddr() string { return s.httpLn.Addr().String() }

// DNSAddr is the bound DNS address (UDP and TCP).
func (s *Server) DNSAddr() string { return s.dns.Addr() }

// LoginAddr is the bound grid login front address.
func (s *Server) LoginAddr() string { return s.login.Addr() }

// RaftAddr is the Raft transport's advertised address.
func (s *Server) RaftAddr() string { return s.raft.Addr() }

// GossipAddr is the bound gossip address.
func (s *Server) GossipAddr() string { return s.pool.Addr() }

// Name is the node name.
func (s *Server) Name() string { return s.cfg.NodeName }

// Leader returns the node name of the current Raft leader as this member
// knows it, "" when it knows none.
func (s *Server) Leader() string {
	id, _ := s.raft.Leader()
	return id
}

// IsLeader reports whether this member leads the Raft cluster.
func (s *Server) IsLeader() bool { return s.raft.IsLeader() }

// Catalog is the local replica, read-only for callers.
func (s *Server) Catalog() *catalog.Catalog { return s.catalog }

// Run serves until ctx is cancelled, then leaves the gossip pool and shuts
// everything down. It returns the first fatal error.
func (s *Server) Run(ctx context.Context) error {
	s.logger.Info("coordinator starting", "node", s.cfg.NodeName,
		"http", s.HTTPAddr(), "dns", s.DNSAddr(), "raft", s.RaftAddr(), "gossip", s.GossipAddr(), "login", s.LoginAddr())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := s.http.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	g.Go(func() error { return s.dns.Run(gctx) })
	g.Go(func() error { return s.login.Run(gctx) })
	g.Go(func() error { s.joinLoop(gctx); return nil })
	g.Go(func() error { s.bootstrapLoop(gctx); return nil })
	g.Go(func() error { s.leaderLoop(gctx); return nil })
	g.Go(func() error { s.metrics.countGossipEvents(gctx, s.pool); return nil })
	g.Go(func() error {
		<-gctx.Done()
		s.shutdown()
		return nil
	})
	return g.Wait()
}

// shutdown leaves gossip gracefully, then stops every component.
func (s *Server) shutdown() {
	if err := s.pool.Leave(2 * time.Second); err != nil {
		s.logger.Warn("gossip leave", "err", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.http.Shutdown(sctx)
	s.closeAll()
	s.logger.Info("coordinator stopped", "node", s.cfg.NodeName)
}

// closeAll releases everything New opened. It is idempotent and safe on a
// partly constructed Server.
func (s *Server) closeAll() {
	s.closeOnce.Do(func() {
		if s.pool != nil {
			s.pool.Shutdown()
		}
		if s.http != nil {
			s.http.Close()
		} else if s.httpLn != nil {
			s.httpLn.Close()
		}
		if s.dns != nil {
			s.dns.Close()
		}
		if s.login != nil {
			s.login.Close()
		}
		if s.raft != nil {
			if err := s.raft.Shutdown(); err != nil {
				s.logger.Warn("raft shutdown", "err", err)
			}
		}
	})
}

// Kill stops the member abruptly, without leaving gossip: to the others it
// looks like a crash. For tests.
func (s *Server) Kill() { s.closeAll() }

// staleness is how long this member has been without a leader.
func (s *Server) staleness() time.Duration {
	if s.raft.IsLeader() {
		return 0
	}
	return max(time.Since(s.raft.LastContact()), 0)
}
