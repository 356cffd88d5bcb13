package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/understudy/understudy/coordinator/internal/catalog"
	"github.com/understudy/understudy/coordinator/internal/failover"
	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/gossip"
)

// termLeases is the lease table of one Raft term: a new leader starts a new
// one, so that no lease outlives the term that granted it.
type termLeases struct {
	term   uint64
	leases *failover.Leases
}

// leases returns this term's lease table, creating it on first use.
func (s *Server) leases() *failover.Leases {
	term := s.raft.Term()
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if s.termLeases.leases == nil || s.termLeases.term != term {
		s.termLeases = termLeases{term: term, leases: failover.NewLeases(s.cfg.leaseTTL(), time.Now())}
	}
	return s.termLeases.leases
}

func (s *Server) policy() failover.Policy {
	return failover.Policy{Grace: s.cfg.Failover.Grace, MinInterval: s.cfg.Failover.MinInterval}
}

func (b backend) RenewLease(_ context.Context, service, host string, epoch uint64) (time.Duration, error) {
	s := b.s
	if !s.raft.IsLeader() {
		return 0, fmt.Errorf("%w: not the leader", errUnavailable)
	}
	svc, ok := s.catalog.Service(service)
	if !ok {
		return 0, fmt.Errorf("service %s: %w", service, catalog.ErrNotFound)
	}
	h, ok := s.catalog.Host(host)
	if !ok {
		return 0, fmt.Errorf("host %s: %w", host, catalog.ErrNotFound)
	}
	ttl, err := s.leases().Grant(s.policy(), time.Now(), svc, h, host, epoch)
	if errors.Is(err, failover.ErrNotHolder) {
		return 0, fmt.Errorf("%w: %w", catalog.ErrConflict, err)
	}
	return ttl, err
}

func (b backend) ReleaseLease(service, host string) {
	b.s.leases().Release(service, host)
}

// Failover commits a planned switchover: the new primary starts once the
// old one has stopped and released its lease (or the lease ran out).
func (b backend) Failover(ctx context.Context, service, to string) (catalog.Promotion, error) {
	s := b.s
	svc, ok := s.catalog.Service(service)
	if !ok {
		return catalog.Promotion{}, fmt.Errorf("service %s: %w", service, catalog.ErrNotFound)
	}
	if to == "" {
		var found bool
		to, found = failover.Standby(svc, s.catalog.Hosts(), s.catalog.Services(), s.freshness)
		if !found {
			return catalog.Promotion{}, fmt.Errorf("%w: service %s has no standby ready to take over", catalog.ErrConflict, service)
		}
	}
	return b.promote(ctx, svc, to, "planned switchover", true)
}

func (b backend) promote(ctx context.Context, svc catalog.Service, to, reason string, planned bool) (catalog.Promotion, error) {
	err := b.Apply(ctx, &catalog.Promote{Service: svc.Name, To: to, Epoch: svc.Epoch, Reason: reason,
		Planned: planned, At: time.Now().UnixMilli()})
	if err != nil {
		return catalog.Promotion{}, err
	}
	b.s.logger.Info("promotion", "service", svc.Name, "from", svc.Primary, "to", to, "epoch", svc.Epoch+1,
		"reason", reason, "planned", planned)
	for _, p := range slices.Backward(b.s.catalog.Promotions()) {
		if p.Service == svc.Name && p.Epoch == svc.Epoch+1 {
			return p, nil
		}
	}
	return catalog.Promotion{Service: svc.Name, From: svc.Primary, To: to, Epoch: svc.Epoch + 1, Reason: reason, Planned: planned}, nil
}

// Drain switches every service whose primary is host to its best standby.
func (b backend) Drain(ctx context.Context, host string) ([]catalog.Promotion, error) {
	s := b.s
	if _, ok := s.catalog.Host(host); !ok {
		return nil, fmt.Errorf("host %s: %w", host, catalog.ErrNotFound)
	}
	var out []catalog.Promotion
	var errs []error
	for _, svc := range s.catalog.Services() {
		if svc.Primary != host {
			continue
		}
		to, ok := failover.Standby(svc, s.catalog.Hosts(), s.catalog.Services(), s.freshness)
		if !ok {
			errs = append(errs, fmt.Errorf("%w: service %s has no standby ready to take over", catalog.ErrConflict, svc.Name))
			continue
		}
		p, err := b.promote(ctx, svc, to, "drain "+host, true)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}

// failoverTick runs the failover policy once and commits its decisions.
func (s *Server) failoverTick(ctx context.Context) {
	leases := s.leases()
	now := time.Now()
	in := failover.Input{
		Now: now, Services: s.catalog.Services(), Hosts: s.catalog.Hosts(),
		LeaseExpired: func(svc string) bool { return leases.Expired(svc, now) },
		Freshness:    s.freshness,
	}
	for _, d := range failover.Decide(s.policy(), in) {
		svc, ok := s.catalog.Service(d.Service)
		if !ok || svc.Epoch != d.Epoch {
			continue
		}
		if _, err := (backend{s}).promote(ctx, svc, d.To, d.Reason, false); err != nil {
			level := slog.LevelWarn
			if errors.Is(err, catalog.ErrConflict) {
				level = slog.LevelDebug // the catalogue moved on since the decision: decided again next tick
			}
			s.logger.Log(ctx, level, "promotion not applied", "service", d.Service, "to", d.To, "err", err)
		}
	}
}

// freshness is when host last held a complete copy of service's data.
func (s *Server) freshness(service, host string) time.Time {
	if ms := s.catalog.Freshness(service, host); ms > 0 {
		return time.UnixMilli(ms)
	}
	return time.Time{}
}

// clusterTick chooses the cluster's chunking polynomial once.
func (s *Server) clusterTick(ctx context.Context) {
	if s.catalog.Cluster().ChunkerPolynomial != 0 {
		return
	}
	pol, err := chunk.RandomPolynomial()
	if err != nil {
		s.logger.Error("choose chunking polynomial", "err", err)
		return
	}
	s.apply(ctx, &catalog.SetClusterConfig{ChunkerPolynomial: uint64(pol)})
}

// healthTick copies the check states agents gossip into the catalogue.
func (s *Server) healthTick(ctx context.Context) {
	checks := s.pool.Checks()
	now := time.Now().UnixMilli()
	for _, svc := range s.catalog.Services() {
		for _, inst := range svc.Instances {
			nc, ok := checks[inst.Host]
			if !ok {
				continue
			}
			st, ok := nc.Checks[svc.Name]
			if !ok {
				continue
			}
			want := healthOf(st)
			h, _ := s.catalog.Host(inst.Host)
			if h.Status != catalog.HostAlive {
				continue // the catalogue already counts it critical
			}
			if inst.Health != want {
				s.apply(ctx, &catalog.SetHealth{Host: inst.Host, Service: svc.Name, Health: want, At: now})
			}
		}
	}
}

func healthOf(st gossip.CheckStatus) catalog.Health {
	switch st {
	case gossip.CheckPassing:
		return catalog.HealthPassing
	case gossip.CheckWarning:
		return catalog.HealthWarning
	}
	return catalog.HealthCritical
}
