package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/understudy/understudy/coordinator/internal/catalog"
	"github.com/understudy/understudy/coordinator/internal/provision"
	"github.com/understudy/understudy/coordinator/internal/standby"
)

// poolController runs the standby pools while this member leads. Every
// tick, for each region with a policy, it runs [standby.Step] on what the
// catalogue holds, commits a [catalog.PoolStep] when the state changes or a
// provisioner request opens or closes, and calls the hook for every open
// request without an answer.
//
// Request ids are assigned by the catalogue when the step commits, so a new
// leader finds the requests its predecessor opened and calls the hook with
// the same ids: the hook treats them as repeats, and nothing is provisioned
// twice.
type poolController struct {
	s           *Server
	log         *slog.Logger
	hook        *provision.Client // nil when no hook is configured
	bootTimeout time.Duration
	pause       time.Duration // after a refused or abandoned request

	wg sync.WaitGroup // hook calls

	mu      sync.Mutex           // guards calling, holdOff and warned
	calling map[string]bool      // request ids with a hook call running
	holdOff map[string]time.Time // region or request id → nothing new before this
	warned  map[string]bool      // regions told that no hook is configured
}

// newPoolController builds the controller of this member's leader loop.
// A hook that cannot be set up is logged and left out: the pools still
// track their state and allocations work.
func (s *Server) newPoolController() *poolController {
	p := &poolController{
		s: s, log: s.logger.With("component", "pools"),
		bootTimeout: s.cfg.Provisioner.BootTimeout, pause: s.cfg.Provisioner.BackoffMax,
		calling: map[string]bool{}, holdOff: map[string]time.Time{}, warned: map[string]bool{},
	}
	if !s.cfg.Provisioner.enabled() {
		return p
	}
	if s.restartHook != nil {
		// One client per coordinator: one bound on hook invocations in
		// flight and one memory of completed ids.
		p.hook = s.restartHook
		return p
	}
	hc, err := s.cfg.Provisioner.hookConfig()
	if err == nil {
		p.hook, err = provision.New(hc, p.log.With("component", "provisioner"))
	}
	if err != nil {
		p.log.Error("provisioner hook unusable: standby pools will not ask for servers", "err", err)
	}
	return p
}

// wait blocks until every hook call has returned. The caller cancels their
// context first.
func (p *poolController) wait() { p.wg.Wait() }

// tick runs the controller once for every pool.
func (p *poolController) tick(ctx context.Context) {
	cat := p.s.catalog
	for _, pool := range cat.Pools() {
		p.step(ctx, pool.Region, time.Now().UTC().Round(0))
		if p.hook == nil {
			continue
		}
		v, ok := cat.PoolView(pool.Region)
		if !ok {
			continue
		}
		for _, r := range v.Requests {
			if !r.Answered {
				p.call(ctx, pool.Region, r)
			}
		}
	}
}

// step runs standby.Step for one region and commits the result if it
// changes anything.
func (p *poolController) step(ctx context.Context, region string, now time.Time) {
	v, ok := p.s.catalog.PoolView(region)
	if !ok {
		return
	}
	st, d := standby.Step(v.Policy, v.State, v.Observation, now)
	cmd := &catalog.PoolStep{Region: region, Generation: v.Generation, State: st, Target: d.Target, At: now.UnixMilli()}
	for i, r := range v.Requests {
		switch {
		case v.Progress[i].Done:
			cmd.Close = append(cmd.Close, r.ID)
		case now.Sub(time.UnixMilli(r.At)) >= p.bootTimeout:
			p.log.Warn("provisioner request timed out", "region", region, "id", r.ID, "kind", r.Kind,
				"booting", v.Progress[i].Booting, "after", p.bootTimeout)
			cmd.Close = append(cmd.Close, r.ID)
		}
	}
	if d.Request > 0 || d.Release > 0 {
		switch {
		case p.hook == nil:
			p.warnNoHook(region, d)
		case p.heldOff(region, now):
		default:
			cmd.Provision = d.Request
			cmd.Release = v.ReadyHosts[len(v.ReadyHosts)-d.Release:]
			cmd.Reason = fmt.Sprintf("target %d: %d ready, %d booting, %d active", d.Target,
				v.Observation.Ready, v.Observation.Booting, v.Observation.Active)
		}
	}
	if sameState(st, v.State) && d.Target == v.Target && cmd.Provision == 0 && len(cmd.Release) == 0 && len(cmd.Close) == 0 {
		return
	}
	err := (backend{p.s}).Apply(ctx, cmd)
	switch {
	case errors.Is(err, catalog.ErrConflict):
		// The pool moved on since it was read; the next tick decides again.
		p.log.Debug("pool step superseded", "region", region, "err", err)
	case err != nil:
		p.log.Warn("pool step not committed", "region", region, "err", err)
	default:
		if d.Fired != nil || cmd.Provision > 0 || len(cmd.Release) > 0 || st.Raised != v.State.Raised {
			p.log.Info("standby pool decision", "region", region, "target", d.Target, "raised", st.Raised,
				"ready", v.Observation.Ready, "booting", v.Observation.Booting, "active", v.Observation.Active,
				"provision", cmd.Provision, "release", len(cmd.Release))
		}
	}
}

func sameState(a, b standby.State) bool {
	return a.Raised == b.Raised && a.Multiplier == b.Multiplier && a.LastTrigger.Equal(b.LastTrigger)
}

func (p *poolController) warnNoHook(region string, d standby.Decision) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.warned[region] {
		p.warned[region] = true
		p.log.Warn("standby pool needs servers but no provisioner is configured", "region", region,
			"target", d.Target, "missing", d.Request, "surplus", d.Release)
	}
}

func (p *poolController) heldOff(key string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return now.Before(p.holdOff[key])
}

// call sends an open request to the hook in the background, unless a call
// for it is already running, and records the answer. The call is abandoned
// when this member stops leading; the next leader repeats it with the same
// id.
func (p *poolController) call(ctx context.Context, region string, r catalog.PoolRequest) {
	p.mu.Lock()
	if p.calling[r.ID] || time.Now().Before(p.holdOff[r.ID]) {
		p.mu.Unlock()
		return
	}
	p.calling[r.ID] = true
	p.mu.Unlock()
	cctx, cancel := context.WithCancel(ctx)
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		p.watchLeadership(cctx, cancel)
	}()
	go func() {
		defer p.wg.Done()
		defer cancel()
		resp, err := p.hook.Do(cctx, provision.Request{ID: r.ID, Kind: provision.Kind(r.Kind), Region: region,
			Count: r.Count, Hosts: r.Hosts, Reason: r.Reason})
		p.answer(ctx, region, r, resp, err)
		p.mu.Lock()
		delete(p.calling, r.ID)
		p.mu.Unlock()
	}()
}

// watchLeadership cancels a hook call once this member no longer leads.
func (p *poolController) watchLeadership(ctx context.Context, cancel context.CancelFunc) {
	t := time.NewTicker(p.s.reconcileInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !p.s.raft.IsLeader() {
				cancel()
				return
			}
		}
	}
}

// answer commits the hook's answer to a request.
func (p *poolController) answer(ctx context.Context, region string, r catalog.PoolRequest, resp provision.Response, err error) {
	ans := &catalog.PoolAnswer{Region: region, ID: r.ID, Hosts: resp.Hosts, At: time.Now().UnixMilli()}
	switch {
	case err == nil:
		p.log.Info("provisioner answered", "region", region, "id", r.ID, "kind", r.Kind, "hosts", resp.Hosts, "message", resp.Message)
	case errors.Is(err, provision.ErrRejected), errors.Is(err, provision.ErrConflict), errors.Is(err, provision.ErrInvalidRequest):
		p.log.Warn("provisioner refused request", "region", region, "id", r.ID, "kind", r.Kind, "err", err)
		ans.Refused = err.Error()
		p.hold(region)
	case ctx.Err() != nil || !p.s.raft.IsLeader():
		return // stopped or no longer leading: the next leader repeats the request
	default:
		p.log.Warn("provisioner request abandoned for now", "region", region, "id", r.ID, "kind", r.Kind, "err", err)
		p.hold(r.ID)
		return
	}
	if err := (backend{p.s}).Apply(ctx, ans); err != nil {
		p.log.Warn("provisioner answer not recorded", "region", region, "id", r.ID, "err", err)
	}
}

// hold keeps key (a region or a request id) quiet for one back-off period.
func (p *poolController) hold(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holdOff[key] = time.Now().Add(p.pause)
}

// WithAbsentGrace sets how long a new leader waits before it marks hosts
// that gossip does not know as failed. Tests and benchmarks that register
// hosts through the API alone, with no agent behind them, lengthen it.
func WithAbsentGrace(d time.Duration) Option { return func(s *Server) { s.absentGrace = d } }
