package server

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/understudy/understudy/coordinator/internal/catalog"
	"github.com/understudy/understudy/coordinator/internal/consensus"
	"github.com/understudy/understudy/coordinator/internal/dns"
	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/pkg/gossip"
)

// joinLoop joins the configured gossip addresses, retrying until one
// answers.
func (s *Server) joinLoop(ctx context.Context) {
	if len(s.cfg.RetryJoin) == 0 {
		return
	}
	for {
		n, err := s.pool.Join(ctx, s.cfg.RetryJoin)
		if err == nil && n > 0 {
			s.logger.Info("joined gossip pool", "contacted", n)
			return
		}
		s.logger.Warn("gossip join failed, will retry", "addrs", s.cfg.RetryJoin, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.joinInterval):
		}
	}
}

// coordinators returns the alive coordinator members of the pool, sorted by
// name.
func (s *Server) coordinators() []gossip.Member {
	var out []gossip.Member
	for _, m := range s.pool.Members() {
		if m.State == gossip.StateAlive && m.Meta.Kind == gossip.KindCoordinator && m.Meta.RaftAddr != "" {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b gossip.Member) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// bootstrapLoop starts a new cluster once bootstrap_expect coordinators are
// in the gossip pool, unless this node already has Raft state or one of
// them already belongs to a cluster (then the leader adds this node).
func (s *Server) bootstrapLoop(ctx context.Context) {
	if s.raft.HasState() {
		return
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.raft.HasState() {
			return
		}
		coords := s.coordinators()
		if len(coords) >= s.cfg.BootstrapExpect && !s.clusterExists(ctx, coords) {
			var servers []consensus.Server
			for _, m := range coords {
				servers = append(servers, consensus.Server{ID: m.Name, Address: m.Meta.RaftAddr})
			}
			if err := s.raft.Bootstrap(servers); err != nil {
				s.logger.Error("raft bootstrap failed", "err", err)
			} else {
				s.logger.Info("raft cluster bootstrapped", "servers", len(servers))
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// clusterExists asks the other coordinators whether any already has a Raft
// configuration.
func (s *Server) clusterExists(ctx context.Context, coords []gossip.Member) bool {
	for _, m := range coords {
		if m.Name == s.cfg.NodeName || m.Meta.HTTPAddr == "" {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		peers, err := api.NewClient(m.Meta.HTTPAddr, "").Peers(cctx)
		cancel()
		if err == nil && len(peers) > 0 {
			return true
		}
	}
	return false
}

// leaderLoop reconciles gossip into the catalogue while this node leads.
func (s *Server) leaderLoop(ctx context.Context) {
	sub := s.pool.Subscribe()
	defer sub.Close()
	tick := time.NewTicker(s.reconcileInterval)
	defer tick.Stop()
	var leaderSince time.Time
	pools := s.newPoolController()
	defer pools.wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.C():
		case <-tick.C:
		}
		if !s.raft.IsLeader() {
			leaderSince = time.Time{}
			continue
		}
		if leaderSince.IsZero() {
			leaderSince = time.Now()
		}
		s.reconcile(ctx, time.Since(leaderSince) > s.absentGrace)
		s.healthTick(ctx)
		s.failoverTick(ctx)
		pools.tick(ctx)
		s.clusterTick(ctx)
	}
}

// reconcile turns what gossip observed into catalogue commands and keeps
// the Raft configuration in step with the coordinators in the pool. With
// settled set (this node has led long enough for gossip to have found
// every live agent), alive hosts that gossip does not know at all are
// marked failed: their agent went away while no coordinator watched, for
// instance during a restart of the whole cluster.
func (s *Server) reconcile(ctx context.Context, settled bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	now := time.Now().UnixMilli()
	known := map[string]bool{}
	for _, m := range s.pool.Members() {
		known[m.Name] = true
		switch m.Meta.Kind {
		case gossip.KindAgent:
			s.reconcileAgent(ctx, m, now)
		case gossip.KindCoordinator:
			s.reconcileCoordinator(ctx, m)
		}
	}
	if !settled {
		return
	}
	for _, h := range s.catalog.Hosts() {
		if h.Status == catalog.HostAlive && !known[h.Name] {
			s.logger.Info("host absent from gossip", "host", h.Name)
			s.apply(ctx, &catalog.SetHostStatus{Name: h.Name, Status: catalog.HostFailed, At: now})
		}
	}
}

func hostStatus(st gossip.State) catalog.HostStatus {
	switch st {
	case gossip.StateAlive:
		return catalog.HostAlive
	case gossip.StateLeft:
		return catalog.HostLeft
	default:
		return catalog.HostFailed
	}
}

func (s *Server) reconcileAgent(ctx context.Context, m gossip.Member, now int64) {
	want := hostStatus(m.State)
	h, ok := s.catalog.Host(m.Name)
	if !ok {
		if want != catalog.HostAlive {
			return
		}
		host, _, _ := net.SplitHostPort(m.Addr)
		s.apply(ctx, &catalog.UpsertHost{
			Name: m.Name, Region: m.Meta.Region, Role: catalog.Role(m.Meta.Role),
			Address: host, Version: m.Meta.Version, At: now,
		})
		return
	}
	if h.Status != want {
		s.logger.Info("host status changed", "host", m.Name, "from", h.Status, "to", want)
		s.apply(ctx, &catalog.SetHostStatus{Name: m.Name, Status: want, At: now})
	}
}

func (s *Server) reconcileCoordinator(ctx context.Context, m gossip.Member) {
	if m.Name == s.cfg.NodeName {
		return
	}
	servers, err := s.raft.Servers()
	if err != nil {
		return
	}
	idx := slices.IndexFunc(servers, func(sv consensus.Server) bool { return sv.ID == m.Name })
	switch {
	case m.State == gossip.StateAlive && m.Meta.RaftAddr != "" &&
		(idx < 0 || servers[idx].Address != m.Meta.RaftAddr):
		s.logger.Info("adding coordinator to raft", "node", m.Name, "addr", m.Meta.RaftAddr)
		if err := s.raft.AddVoter(ctx, m.Name, m.Meta.RaftAddr); err != nil {
			s.logger.Warn("add raft voter", "node", m.Name, "err", err)
		}
	case m.State == gossip.StateLeft && idx >= 0:
		s.logger.Info("removing departed coordinator from raft", "node", m.Name)
		if err := s.raft.RemoveServer(ctx, m.Name); err != nil {
			s.logger.Warn("remove raft server", "node", m.Name, "err", err)
		}
	}
}

func (s *Server) apply(ctx context.Context, cmd catalog.Command) {
	if err := (backend{s}).Apply(ctx, cmd); err != nil {
		s.logger.Warn("catalogue update failed", "cmd", cmd, "err", err)
	}
}

// nameServers lists the alive coordinators with their DNS addresses.
func (s *Server) nameServers() []dns.NameServer {
	var out []dns.NameServer
	for _, m := range s.coordinators() {
		host, _, err := net.SplitHostPort(m.Meta.DNSAddr)
		if err != nil {
			continue
		}
		if a, err := netip.ParseAddr(host); err == nil {
			out = append(out, dns.NameServer{Name: m.Name, Addr: a})
		}
	}
	return out
}
