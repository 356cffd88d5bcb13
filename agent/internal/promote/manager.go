package promote

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/understudy/understudy/pkg/api"
)

// Service is one service the manager runs or keeps stopped.
type Service struct {
	Name string
	// Hot services run on standbys too (a stateless login service); cold
	// ones only on the primary.
	Hot        bool
	Controller Controller
	// Resync brings a fenced former primary's data up to date from the new
	// primary. Nil means the service has no data to resync.
	Resync func(ctx context.Context, primary string) error
	// FinalSync runs after the service stopped for a planned switchover and
	// before the lease is given up: a last snapshot mirrored to the new
	// primary, so that no acknowledged write is lost. Nil means nothing to
	// sync.
	FinalSync func(ctx context.Context, primary string) error
}

// finalSyncTimeout bounds a planned switchover's final sync; past it the
// lease is given up anyway and the new primary starts from its warm copy.
const finalSyncTimeout = 2 * time.Minute

// Config configures a Manager.
type Config struct {
	// Host is this host's node name.
	Host     string
	Services []Service
	// Client returns a client for some coordinator; it is called for every
	// request, so it may pick another coordinator each time.
	Client func() (*api.Client, error)
	Logger *slog.Logger
	// Tick is how often the manager re-examines its services when nothing
	// happens (default 100ms).
	Tick time.Duration
	// OnRenew, when set, is called after every lease renewal attempt with
	// the service and the outcome: "granted", "refused" (another host
	// holds the service or the epoch moved on) or "error" (no
	// coordinator answered). It must be quick.
	OnRenew func(service, outcome string)
}

// Manager runs and stops a host's services as the coordinators decide.
type Manager struct {
	cfg  Config
	log  *slog.Logger
	kick chan struct{}
	// wg owns the resync goroutines.
	wg sync.WaitGroup

	mu       sync.Mutex // guards states
	states   map[string]*state
	services map[string]Service
}

// state is what the manager knows of one service.
type state struct {
	view    api.HostInstance
	hasView bool
	// lease: the epoch it was granted at and until when it is ours.
	leaseEpoch uint64
	validUntil time.Time
	ttl        time.Duration
	// resyncedEpoch is the epoch at which a fenced instance last resynced.
	resyncedEpoch uint64
	resyncing     bool
	lastStart     time.Time
	// restartSeen is the newest restart request acted on (or present when
	// the manager first saw the instance).
	restartSeen int64
	// draining is set while a planned handover stops the service and
	// syncs its data to the new primary.
	draining bool
}

// defaultTTL is assumed before the first grant tells the real TTL.
const defaultTTL = time.Second

// New returns a manager; Run starts it.
func New(cfg Config) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 100 * time.Millisecond
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, kick: make(chan struct{}, 1),
		states: map[string]*state{}, services: map[string]Service{}}
	for _, s := range cfg.Services {
		m.states[s.Name] = &state{}
		m.services[s.Name] = s
	}
	return m
}

// Run manages the services until ctx is done, then stops every service it
// runs and releases its leases.
func (m *Manager) Run(ctx context.Context) error {
	m.wg.Go(func() { m.watch(ctx) })
	m.wg.Go(func() { m.renewLoop(ctx) })
	m.reconcileLoop(ctx)
	m.wg.Wait()
	m.stopAll()
	return nil
}

func (m *Manager) poke() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// watch follows the host's instances with blocking queries.
func (m *Manager) watch(ctx context.Context) {
	var index uint64
	for ctx.Err() == nil {
		c, err := m.cfg.Client()
		if err == nil {
			var his api.HostInstances
			his, err = c.HostInstances(ctx, m.cfg.Host, index, 20*time.Second)
			if err == nil {
				index = his.Index
				m.update(his.Instances)
				continue
			}
		}
		if ctx.Err() == nil {
			m.log.Debug("watch of host instances failed", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (m *Manager) update(instances []api.HostInstance) {
	m.mu.Lock()
	seen := map[string]bool{}
	for _, hi := range instances {
		st, ok := m.states[hi.Service]
		if !ok {
			continue
		}
		seen[hi.Service] = true
		if st.hasView && (st.view.Primary != hi.Primary || st.view.Epoch != hi.Epoch || st.view.Fenced != hi.Fenced ||
			st.view.HostFenced != hi.HostFenced) {
			m.log.Info("service role changed", "service", hi.Service, "primary", hi.Primary,
				"epoch", hi.Epoch, "fenced", hi.Fenced, "primary_host", hi.PrimaryHost)
		}
		if !st.hasView && st.restartSeen == 0 {
			st.restartSeen = hi.RestartRequested // requests older than this agent are moot
		}
		st.view, st.hasView = hi, true
	}
	for name, st := range m.states {
		if !seen[name] {
			st.hasView = false
		}
	}
	m.mu.Unlock()
	m.poke()
}

// renewLoop keeps the leases of the services this host is primary for.
func (m *Manager) renewLoop(ctx context.Context) {
	for {
		wait := m.renewAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// renewAll renews every lease due and returns when to come back.
func (m *Manager) renewAll(ctx context.Context) time.Duration {
	next := defaultTTL / 4
	type due struct {
		name  string
		epoch uint64
	}
	var todo []due
	m.mu.Lock()
	for name, st := range m.states {
		switch {
		case st.draining && st.leaseEpoch != 0:
			// A planned handover in progress: keep the old epoch's lease
			// until the final sync is done and it is released, so that the
			// new primary cannot start before it has every write.
			todo = append(todo, due{name, st.leaseEpoch})
		case st.hasView && st.view.Primary && !st.view.Fenced:
			todo = append(todo, due{name, st.view.Epoch})
		default:
			st.leaseEpoch, st.validUntil = 0, time.Time{}
		}
		if st.ttl > 0 {
			next = min(next, st.ttl/4)
		}
	}
	m.mu.Unlock()
	for _, d := range todo {
		m.renew(ctx, d.name, d.epoch)
	}
	return next
}

func (m *Manager) renew(ctx context.Context, name string, epoch uint64) {
	c, err := m.cfg.Client()
	if err != nil {
		return
	}
	sent := time.Now()
	rctx, cancel := context.WithTimeout(ctx, defaultTTL)
	ttl, err := c.RenewLease(rctx, name, m.cfg.Host, epoch)
	cancel()
	if m.cfg.OnRenew != nil {
		switch {
		case err == nil:
			m.cfg.OnRenew(name, "granted")
		case api.IsStatus(err, http.StatusConflict):
			m.cfg.OnRenew(name, "refused")
		default:
			m.cfg.OnRenew(name, "error")
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.states[name]
	switch {
	case err == nil:
		if st.leaseEpoch != epoch {
			m.log.Info("lease acquired", "service", name, "epoch", epoch, "ttl", ttl)
		}
		st.leaseEpoch, st.validUntil, st.ttl = epoch, sent.Add(ttl), ttl
		m.poke()
	case api.IsStatus(err, http.StatusConflict):
		if st.leaseEpoch == epoch && time.Now().Before(st.validUntil) {
			m.log.Warn("lease refused, stopping", "service", name, "epoch", epoch, "err", err)
		}
		st.leaseEpoch, st.validUntil = 0, time.Time{}
		m.poke()
	default:
		m.log.Debug("lease renewal failed", "service", name, "err", err)
	}
}

// ServiceState is what [Manager.States] reports of one service.
type ServiceState struct {
	Name string
	// Running is what the service's controller says now.
	Running bool
	// LeaseValid is true while this host holds an unexpired lease as the
	// service's primary.
	LeaseValid bool
}

// States reports every managed service, in no particular order.
func (m *Manager) States() []ServiceState {
	now := time.Now()
	m.mu.Lock()
	out := make([]ServiceState, 0, len(m.states))
	for name, st := range m.states {
		out = append(out, ServiceState{Name: name,
			LeaseValid: st.hasView && st.leaseEpoch == st.view.Epoch && now.Before(st.validUntil)})
	}
	m.mu.Unlock()
	for i := range out {
		out[i].Running = m.services[out[i].Name].Controller.Running()
	}
	return out
}

// shouldRun decides whether a service's process may run now.
func (st *state) shouldRun(svc Service, now time.Time) bool {
	if !st.hasView || st.view.Fenced || st.view.HostFenced {
		return false
	}
	if svc.Hot {
		return true
	}
	margin := st.ttl / 4
	return st.view.Primary && st.leaseEpoch == st.view.Epoch && now.Before(st.validUntil.Add(-margin))
}

func (m *Manager) reconcileLoop(ctx context.Context) {
	t := time.NewTicker(m.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.kick:
		}
		for name := range m.services {
			m.reconcile(ctx, name)
		}
	}
}

func (m *Manager) reconcile(ctx context.Context, name string) {
	svc := m.services[name]
	now := time.Now()
	m.mu.Lock()
	st := m.states[name]
	want := st.shouldRun(svc, now)
	wasPrimary := st.view.Primary
	epoch := st.view.Epoch
	newPrimary := st.view.PrimaryHost
	// A clean handover: the coordinators moved the role elsewhere without
	// fencing this host (an automatic failover fences the old primary).
	// Anything else (a lost or refused lease, a fence) stops the service at
	// once.
	planned := st.hasView && !st.view.Primary && !st.view.Fenced && !st.view.HostFenced
	if planned && !want && svc.Controller.Running() {
		st.draining = true
	}
	restart := st.hasView && st.view.RestartRequested > st.restartSeen
	if restart {
		st.restartSeen = st.view.RestartRequested
	}
	m.mu.Unlock()

	running := svc.Controller.Running()
	if sc, ok := svc.Controller.(settler); ok && !sc.Settled() && want {
		running = false // start it (idempotent) rather than trust a guess
	}
	if restart && running {
		m.log.Info("restarting service on request", "service", name)
		if err := svc.Controller.Stop(ctx); err != nil {
			m.log.Error("service stop failed", "service", name, "err", err)
		}
		running = svc.Controller.Running()
		m.mu.Lock()
		st.lastStart = time.Time{} // start again at once
		m.mu.Unlock()
	}
	switch {
	case want && !running:
		m.mu.Lock()
		tooSoon := now.Sub(st.lastStart) < time.Second
		if !tooSoon {
			st.lastStart = now
		}
		m.mu.Unlock()
		if tooSoon {
			break
		}
		m.log.Info("starting service", "service", name, "epoch", epoch, "primary", wasPrimary)
		if err := svc.Controller.Start(ctx); err != nil {
			m.log.Error("service start failed", "service", name, "err", err)
		}
	case !want && running:
		k, canKill := svc.Controller.(killer)
		switch {
		case planned || !canKill:
			m.log.Info("stopping service", "service", name, "epoch", epoch, "planned", planned)
			if err := svc.Controller.Stop(ctx); err != nil {
				m.log.Error("service stop failed", "service", name, "err", err)
			}
		default:
			m.log.Warn("stopping service", "service", name, "epoch", epoch, "kill", true,
				"why", "this host may no longer serve it")
			if err := k.Kill(ctx); err != nil {
				m.log.Error("service kill failed", "service", name, "err", err)
			}
		}
		if planned && svc.FinalSync != nil && newPrimary != "" {
			m.finalSync(ctx, svc, newPrimary)
		}
		m.release(ctx, name)
	}
	m.report(ctx, name, svc.Controller.Running())
	m.maybeResync(ctx, svc)
}

// finalSync runs a planned handover's final sync, retrying what fails (the
// data machinery may still be starting, the new primary's mirror address
// may not have spread yet) until it succeeds or finalSyncTimeout passes.
// The lease is held meanwhile, so the new primary waits rather than start
// without the last writes.
func (m *Manager) finalSync(ctx context.Context, svc Service, to string) {
	sctx, cancel := context.WithTimeout(ctx, finalSyncTimeout)
	defer cancel()
	start := time.Now()
	pause := 100 * time.Millisecond
	for {
		err := svc.FinalSync(sctx, to)
		if err == nil {
			m.log.Info("final sync before handover done", "service", svc.Name, "to", to, "took", time.Since(start))
			return
		}
		if sctx.Err() != nil {
			m.log.Error("final sync before handover failed; the new primary starts from its warm copy",
				"service", svc.Name, "to", to, "err", err)
			return
		}
		m.log.Warn("final sync before handover failed, retrying", "service", svc.Name, "to", to, "err", err)
		select {
		case <-sctx.Done():
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// release gives the lease back after the service stopped, so that a planned
// switchover need not wait for it to run out.
func (m *Manager) release(ctx context.Context, name string) {
	m.mu.Lock()
	st := m.states[name]
	st.leaseEpoch, st.validUntil, st.draining = 0, time.Time{}, false
	m.mu.Unlock()
	c, err := m.cfg.Client()
	if err != nil {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.ReleaseLease(rctx, name, m.cfg.Host); err != nil {
		m.log.Debug("lease release failed", "service", name, "err", err)
	}
}

// report tells the coordinators whether the service runs, when that
// changed.
func (m *Manager) report(ctx context.Context, name string, running bool) {
	m.mu.Lock()
	st := m.states[name]
	need := st.hasView && st.view.Running != running
	m.mu.Unlock()
	if !need {
		return
	}
	c, err := m.cfg.Client()
	if err != nil {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err = c.SetRunning(rctx, m.cfg.Host, name, running)
	cancel()
	if err == nil {
		m.mu.Lock()
		st.view.Running = running
		m.mu.Unlock()
	}
}

// maybeResync resynchronises a fenced, stopped instance once per epoch and
// then asks to stand by again.
func (m *Manager) maybeResync(ctx context.Context, svc Service) {
	m.mu.Lock()
	st := m.states[svc.Name]
	if !st.hasView || !st.view.Fenced || st.resyncing || st.resyncedEpoch == st.view.Epoch || svc.Controller.Running() {
		m.mu.Unlock()
		return
	}
	st.resyncing = true
	epoch, primary := st.view.Epoch, st.view.PrimaryHost
	m.mu.Unlock()

	m.wg.Go(func() {
		err := m.resync(ctx, svc, primary)
		m.mu.Lock()
		st.resyncing = false
		if err == nil {
			st.resyncedEpoch = epoch
		}
		m.mu.Unlock()
		if err != nil && !errors.Is(err, context.Canceled) {
			m.log.Warn("resync failed", "service", svc.Name, "from", primary, "err", err)
		}
	})
}

func (m *Manager) resync(ctx context.Context, svc Service, primary string) error {
	m.log.Info("fenced: resynchronising from the new primary", "service", svc.Name, "primary", primary)
	if svc.Resync != nil {
		if err := svc.Resync(ctx, primary); err != nil {
			return err
		}
	}
	c, err := m.cfg.Client()
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Resynced(rctx, m.cfg.Host, svc.Name); err != nil {
		return err
	}
	m.log.Info("resynchronised, standing by", "service", svc.Name)
	return nil
}

// stopAll stops every running service at shutdown.
func (m *Manager) stopAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for name, svc := range m.services {
		if svc.Controller.Running() {
			m.log.Info("stopping service at shutdown", "service", name)
			if err := svc.Controller.Stop(ctx); err != nil {
				m.log.Error("service stop failed", "service", name, "err", err)
			}
			m.release(ctx, name)
		}
	}
}
