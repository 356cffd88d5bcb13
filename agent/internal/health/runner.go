package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// ErrRunning is returned by [Runner.Run] when the runner has already run.
var ErrRunning = errors.New("health: runner already started")

// Runner runs a set of named checks, each on its own interval, and keeps
// their statuses.
type Runner struct {
	log    *slog.Logger
	checks []*check // sorted by name

	// changes holds at most one undelivered snapshot, the latest. It is
	// written only with mu held, and closed when Run returns.
	changes chan map[string]Status

	mu      sync.Mutex // guards the fields below and sends on changes
	states  map[string]State
	started bool
	onProbe func(check string, result Status, took time.Duration)
}

type check struct {
	name  string
	cfg   CheckConfig // defaults applied
	th    Thresholds
	probe probeFunc
}

// New validates the checks, name → config, and returns a runner for them.
// Every check starts [Critical] (see [InitialState]). The error joins every
// problem of every check, each prefixed with the check's name. A nil logger
// discards logs.
func New(checks map[string]CheckConfig, logger *slog.Logger) (*Runner, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{
		log:     logger,
		changes: make(chan map[string]Status, 1),
		states:  make(map[string]State, len(checks)),
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(checks)) {
		cfg := checks[name].WithDefaults()
		if name == "" {
			errs = append(errs, errors.New("health: a check has an empty name"))
			continue
		}
		if err := cfg.Validate(); err != nil {
			// One line per problem, each naming the check.
			problems := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				problems = j.Unwrap()
			}
			for _, p := range problems {
				errs = append(errs, fmt.Errorf("health: check %q: %w", name, p))
			}
			continue
		}
		r.checks = append(r.checks, &check{name: name, cfg: cfg, th: cfg.Thresholds(), probe: newProbe(cfg)})
		r.states[name] = InitialState()
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

// Run runs every check until ctx is done, then waits for the probes in
// flight to end and closes [Runner.Changes]. Each check's first probe
// starts at a random point of its first interval. A probe cut short by ctx
// is not counted. Run returns nil after ctx is done, or [ErrRunning] if it
// was called before.
func (r *Runner) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return ErrRunning
	}
	r.started = true
	r.mu.Unlock()

	var wg sync.WaitGroup
	for _, c := range r.checks {
		wg.Go(func() { r.loop(ctx, c) })
	}
	wg.Wait()

	r.mu.Lock()
	close(r.changes)
	r.mu.Unlock()
	return nil
}

// OnProbe sets a function called after every probe that counts (see
// [Runner.Run]) with the check's name, the probe's result and how long it
// took; metrics use it. Set it before Run. It is called from the checks'
// goroutines, one probe at a time per check, and must be quick.
func (r *Runner) OnProbe(fn func(check string, result Status, took time.Duration)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onProbe = fn
}

// Status returns every check's current status, by name. The map is the
// caller's.
func (r *Runner) Status() map[string]Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snapshot()
}

// Changes returns a channel that receives every check's status, by name,
// after any of them changes. It holds only the latest snapshot: a reader
// that falls behind misses intermediate ones, never the last, and the
// checks never wait for a reader. Nothing is sent for the initial
// statuses; read them with [Runner.Status]. The channel is closed when
// [Runner.Run] returns.
func (r *Runner) Changes() <-chan map[string]Status { return r.changes }

func (r *Runner) snapshot() map[string]Status {
	out := make(map[string]Status, len(r.states))
	for name, s := range r.states {
		out[name] = s.Status
	}
	return out
}

func (r *Runner) loop(ctx context.Context, c *check) {
	first := time.NewTimer(rand.N(c.cfg.Interval))
	select {
	case <-ctx.Done():
		first.Stop()
		return
	case <-first.C:
	}
	tick := time.NewTicker(c.cfg.Interval)
	defer tick.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		start := time.Now()
		res := c.probe(pctx)
		took := time.Since(start)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if fn := r.observer(); fn != nil {
			fn(c.name, res.status, took)
		}
		r.record(c, res)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (r *Runner) observer() func(string, Status, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.onProbe
}

// record applies one probe result to its check's state and publishes a
// change of status.
func (r *Runner) record(c *check, res result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.states[c.name]
	next := Next(old, res.status, c.th)
	r.states[c.name] = next
	r.log.Debug("check probed", "check", c.name, "result", res.status, "status", next.Status, "output", res.output)
	if next.Status == old.Status {
		return
	}
	r.log.Info("check status changed", "check", c.name, "from", old.Status, "to", next.Status, "output", res.output)
	snap := r.snapshot()
	select {
	case r.changes <- snap:
		return
	default:
	}
	// The reader has not taken the previous snapshot: replace it. Only
	// this function sends, under mu, so the second send cannot block.
	select {
	case <-r.changes:
	default:
	}
	r.changes <- snap
}
