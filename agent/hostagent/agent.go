package hostagent

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/understudy/understudy/agent/internal/health"
	"github.com/understudy/understudy/agent/internal/promote"

	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/pkg/gossip"
)

// Agent is a running host agent.
type Agent struct {
	cfg     Config
	logger  *slog.Logger
	pool    *gossip.Pool
	checks  *health.Runner
	orders  *promote.Manager
	data    *data
	metrics *agentMetrics
	httpLn  net.Listener
	http    *http.Server
	version string
	// controllers replaces the process controller of named services.
	controllers map[string]Controller

	joinInterval     time.Duration
	registerInterval time.Duration
}

// Option adjusts an Agent beyond its file configuration.
type Option func(*Agent)

// WithVersion sets the version gossiped and registered.
func WithVersion(v string) Option { return func(a *Agent) { a.version = v } }

// Controller starts and stops a service's process; see [WithController].
type Controller = promote.Controller

// WithController makes the agent start and stop service through c instead
// of the commands in its configuration (dev mode runs services in process).
func WithController(service string, c Controller) Option {
	return func(a *Agent) { a.controllers[service] = c }
}

// New validates cfg and binds the gossip listener.
func New(cfg Config, logger *slog.Logger, opts ...Option) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &Agent{cfg: cfg, logger: logger, version: "dev", joinInterval: 2 * time.Second,
		registerInterval: 10 * time.Second, controllers: map[string]Controller{}}
	for _, o := range opts {
		o(a)
	}
	a.metrics = newMetrics(a)
	a.data = newData(a)
	checks := map[string]health.CheckConfig{}
	var managed []promote.Service
	for _, s := range cfg.Services {
		if s.Check != nil {
			checks[s.Name] = *s.Check
		}
		ctl := a.controllers[s.Name]
		switch {
		case ctl != nil:
		case len(s.Run) > 0:
			ctl = &promote.Process{Argv: s.Run, Dir: cfg.DataDir}
		case len(s.Start) > 0:
			ctl = &promote.Commands{StartArgv: s.Start, StopArgv: s.Stop}
		default:
			continue
		}
		managed = append(managed, promote.Service{Name: s.Name, Hot: s.Standby == "hot", Controller: ctl,
			Resync: a.data.resync(s), FinalSync: a.data.finalSync(s)})
	}
	var err error
	if a.checks, err = health.New(checks, logger.With("component", "health")); err != nil {
		return nil, err
	}
	a.checks.OnProbe(a.metrics.onProbe)
	a.orders = promote.New(promote.Config{Host: cfg.NodeName, Services: managed, Client: a.coordinator,
		Logger: logger.With("component", "orders"), OnRenew: a.metrics.onRenew})
	for _, s := range managed {
		a.metrics.initLease(s.Name)
	}
	if a.httpLn, err = net.Listen("tcp", net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.Ports.HTTP))); err != nil {
		return nil, fmt.Errorf("http listen: %w", err)
	}
	a.http = a.newHTTPServer()
	if err := a.data.listen(); err != nil {
		a.httpLn.Close()
		return nil, err
	}
	gcfg := gossip.DefaultConfig()
	gcfg.NodeName = cfg.NodeName
	gcfg.BindAddr = cfg.BindAddr
	gcfg.BindPort = cfg.Ports.Gossip
	gcfg.AdvertiseAddr = cfg.AdvertiseAddr
	gcfg.Profile = gossip.Profile(cfg.GossipProfile)
	if cfg.Encrypt != "" {
		gcfg.Key, _ = gossip.ParseKey(cfg.Encrypt) // checked by Validate
	}
	gcfg.Meta = gossip.Meta{
		Kind: gossip.KindAgent, HostID: cfg.NodeName, Region: cfg.Region,
		Role: gossip.Role(cfg.Role), Version: a.version, MirrorAddr: a.data.mirrorAddr(),
	}
	gcfg.Logger = logger.With("component", "gossip")
	gcfg.OnProbe = a.metrics.observeProbe
	if a.pool, err = gossip.New(gcfg); err != nil {
		a.httpLn.Close()
		a.data.close()
		return nil, fmt.Errorf("gossip: %w", err)
	}
	return a, nil
}

// HTTPAddr is the bound address of the metrics and health endpoint.
func (a *Agent) HTTPAddr() string { return a.httpLn.Addr().String() }

// GossipAddr is the bound gossip address.
func (a *Agent) GossipAddr() string { return a.pool.Addr() }

// Name is the node name.
func (a *Agent) Name() string { return a.cfg.NodeName }

// Run joins the pool, registers the host and keeps its registration current
// until ctx is cancelled; then it leaves the pool gracefully.
func (a *Agent) Run(ctx context.Context) error {
	a.logger.Info("agent starting", "node", a.cfg.NodeName, "role", a.cfg.Role, "gossip", a.GossipAddr())
	defer func() {
		if err := a.pool.Leave(2 * time.Second); err != nil {
			a.logger.Warn("gossip leave", "err", err)
		}
		a.pool.Shutdown()
		a.logger.Info("agent stopped", "node", a.cfg.NodeName)
	}()
	var hwg sync.WaitGroup
	defer hwg.Wait()
	hctx, hcancel := context.WithCancel(ctx)
	defer hcancel()
	hwg.Go(func() { a.serveHTTP(hctx) })
	if !a.join(ctx) {
		a.data.close()
		return nil
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { a.checks.Run(ctx) })
	wg.Go(func() { a.publishChecks(ctx) })
	wg.Go(func() { a.orders.Run(ctx) })
	wg.Go(func() { a.data.run(ctx) })
	registered := false
	failures := 0
	for {
		if err := a.register(ctx, registered); err != nil {
			// The first attempts often meet a cluster still electing.
			failures++
			level := slog.LevelDebug
			if failures >= 3 {
				level = slog.LevelWarn
			}
			a.logger.Log(ctx, level, "registration failed, will retry", "err", err, "attempts", failures)
		} else {
			registered, failures = true, 0
		}
		wait := a.registerInterval
		if !registered {
			wait = a.joinInterval
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// publishChecks gossips the check statuses whenever they change.
func (a *Agent) publishChecks(ctx context.Context) {
	publish := func(st map[string]health.Status) {
		m := make(map[string]gossip.CheckStatus, len(st))
		for name, s := range st {
			cs, err := gossip.ParseCheckStatus(string(s))
			if err != nil {
				cs = gossip.CheckCritical
			}
			m[name] = cs
		}
		if err := a.pool.SetChecks(m); err != nil {
			a.logger.Error("gossip check statuses", "err", err)
		}
	}
	publish(a.checks.Status())
	for {
		select {
		case <-ctx.Done():
			return
		case st, ok := <-a.checks.Changes():
			if !ok {
				return
			}
			publish(st)
		}
	}
}

// Kill stops the agent without leaving the pool, as a crash would. For
// tests.
func (a *Agent) Kill() {
	a.pool.Shutdown()
	a.http.Close()
}

func (a *Agent) join(ctx context.Context) bool {
	for {
		n, err := a.pool.Join(ctx, a.cfg.RetryJoin)
		if err == nil && n > 0 {
			a.logger.Info("joined gossip pool", "contacted", n)
			return true
		}
		a.logger.Warn("gossip join failed, will retry", "addrs", a.cfg.RetryJoin, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(a.joinInterval):
		}
	}
}

// registration describes this host and its services.
func (a *Agent) registration() api.Registration {
	r := api.Registration{
		Name: a.cfg.NodeName, Region: a.cfg.Region, Role: a.cfg.Role,
		Address: a.cfg.advertiseIP(), Version: a.version,
	}
	for _, s := range a.cfg.Services {
		r.Services = append(r.Services, api.ServiceDef{
			Name: s.Name, Grid: s.Grid, Port: s.Port, Tags: s.Tags, Primary: a.cfg.Role == string(gossip.RoleActive),
			HasCheck: s.Check != nil,
		})
	}
	return r
}

// register sends the registration to a coordinator. Once registered, it
// only checks that the catalogue still knows the host (a cheap local read)
// and registers again if not.
func (a *Agent) register(ctx context.Context, check bool) error {
	c, err := a.coordinator()
	if err != nil {
		// Every coordinator left the pool (a full cluster restart): join
		// again through the configured addresses.
		jctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		n, jerr := a.pool.Join(jctx, a.cfg.RetryJoin)
		cancel()
		if jerr != nil || n == 0 {
			return fmt.Errorf("%w; rejoin failed: %v", err, jerr)
		}
		a.logger.Info("rejoined gossip pool", "contacted", n)
		if c, err = a.coordinator(); err != nil {
			return err
		}
		check = false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if check {
		if _, err := c.Host(ctx, a.cfg.NodeName); err == nil {
			return nil
		}
	}
	if err := c.Register(ctx, a.registration()); err != nil {
		return err
	}
	a.logger.Info("registered with coordinators", "services", len(a.cfg.Services))
	return nil
}

// coordinator picks an alive coordinator from the gossip pool.
func (a *Agent) coordinator() (*api.Client, error) {
	var addrs []string
	for _, m := range a.pool.Members() {
		if m.State == gossip.StateAlive && m.Meta.Kind == gossip.KindCoordinator && m.Meta.HTTPAddr != "" {
			addrs = append(addrs, m.Meta.HTTPAddr)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("no coordinator in the gossip pool")
	}
	return api.NewClient(addrs[rand.IntN(len(addrs))], a.cfg.Token), nil
}
