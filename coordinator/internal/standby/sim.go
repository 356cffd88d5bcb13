package standby

import (
	"errors"
	"fmt"
	"time"
)

// SimConfig sets up a simulation.
type SimConfig struct {
	// Tick is the controller period; trace t values are counted in it.
	Tick time.Duration
	// ProvisionDelay is how long a requested server takes to become ready.
	// A server requested at tick n is ready from the first tick at or after
	// n×Tick + ProvisionDelay, and never in the tick that requested it.
	ProvisionDelay time.Duration
	// Start is the clock value of tick 0 handed to [Step].
	Start time.Time
}

// DefaultSimConfig returns a one-minute tick and a two-minute provision delay.
func DefaultSimConfig() SimConfig {
	return SimConfig{
		Tick:           time.Minute,
		ProvisionDelay: 2 * time.Minute,
		Start:          time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

// Sample is one simulated tick: what the controller observed and what it
// decided.
type Sample struct {
	Tick      int      `json:"t"`
	Elapsed   Duration `json:"elapsed"`
	Active    int      `json:"active"`
	Standby   int      `json:"standby"` // ready standby, as observed
	Floor     int      `json:"floor"`
	Target    int      `json:"target"`
	Failed    int      `json:"failed"` // allocations that found no ready standby
	Booting   int      `json:"booting"`
	Requested int      `json:"requested"`
	Released  int      `json:"released"`
	Raised    bool     `json:"raised"`
	// Fired is the percent of the threshold that fired at this tick, 0 if
	// none did.
	Fired float64 `json:"fired,omitempty"`
}

// Summary totals a simulation.
type Summary struct {
	Ticks        int `json:"ticks"`
	Allocations  int `json:"allocations"`
	Failed       int `json:"failed"`
	Requested    int `json:"requested"`
	Released     int `json:"released"`
	PeakTarget   int `json:"peak_target"`
	PeakServers  int `json:"peak_servers"`  // active + ready + booting
	StandbyTicks int `json:"standby_ticks"` // sum of ready standby over ticks: the idle cost
}

// Result is a whole simulation.
type Result struct {
	Kind    string   `json:"trace"`
	Policy  Policy   `json:"policy"`
	Samples []Sample `json:"samples"`
	Summary Summary  `json:"summary"`
}

// Simulate runs [Step] once per tick over tr, from tick 0 to the last row's
// tick.
//
// With a [Demand] trace the pool starts with the floor ready and nothing
// active. Each tick, in order: servers whose provision delay has passed
// become ready; deallocated servers return to ready standby (as after their
// cleanup command); allocations take ready servers, and those that find none
// count as failed; the controller observes the pool and decides; released
// servers leave at once and requested ones start booting.
//
// With a [Replay] trace the observed counts come from the trace (Booting is
// zero, Failed is zero) and the decisions do not change them.
func Simulate(p Policy, tr Trace, cfg SimConfig) (Result, error) {
	if err := p.Validate(); err != nil {
		return Result{}, err
	}
	if cfg.Tick <= 0 {
		return Result{}, fmt.Errorf("tick %s must be positive", cfg.Tick)
	}
	if cfg.ProvisionDelay < 0 {
		return Result{}, fmt.Errorf("provision delay %s must not be negative", cfg.ProvisionDelay)
	}
	if len(tr.Rows) == 0 || (tr.Kind != Demand && tr.Kind != Replay) {
		return Result{}, traceError{errors.New("trace has no rows")}
	}
	res := Result{Kind: tr.Kind.String(), Policy: p}
	type boot struct {
		readyAt time.Time
		n       int
	}
	var (
		st               State
		active, ready    int
		booting          []boot
		nBooting, rowIdx int
	)
	if tr.Kind == Demand {
		ready = p.StandbyFloor
	}
	last := tr.Rows[len(tr.Rows)-1].Tick
	res.Samples = make([]Sample, 0, last+1)
	for tick := 0; tick <= last; tick++ {
		now := cfg.Start.Add(time.Duration(tick) * cfg.Tick)
		var row *TraceRow
		if rowIdx < len(tr.Rows) && tr.Rows[rowIdx].Tick == tick {
			row = &tr.Rows[rowIdx]
			rowIdx++
		}
		s := Sample{Tick: tick, Elapsed: Duration(now.Sub(cfg.Start)), Floor: p.StandbyFloor}
		switch tr.Kind {
		case Demand:
			for len(booting) > 0 && !booting[0].readyAt.After(now) {
				ready += booting[0].n
				nBooting -= booting[0].n
				booting = booting[1:]
			}
			if row != nil {
				back := min(row.B, active)
				active -= back
				ready += back
				served := min(row.A, ready)
				ready -= served
				active += served
				s.Failed = row.A - served
				res.Summary.Allocations += row.A
			}
		case Replay:
			if row != nil {
				active, ready = row.A, row.B
			}
		}
		obs := Observation{Active: active, Ready: ready, Booting: nBooting}
		var d Decision
		st, d = Step(p, st, obs, now)
		s.Active, s.Standby, s.Booting = active, ready, nBooting
		s.Target, s.Requested, s.Released, s.Raised = d.Target, d.Request, d.Release, st.Raised
		if d.Fired != nil {
			s.Fired = d.Fired.Percent
		}
		if tr.Kind == Demand {
			ready -= d.Release
			if d.Request > 0 {
				at := now.Add(cfg.ProvisionDelay)
				if !at.After(now) {
					at = now.Add(time.Nanosecond)
				}
				booting = append(booting, boot{readyAt: at, n: d.Request})
				nBooting += d.Request
			}
		}
		res.Samples = append(res.Samples, s)
		sum := &res.Summary
		sum.Failed += s.Failed
		sum.Requested += d.Request
		sum.Released += d.Release
		sum.PeakTarget = max(sum.PeakTarget, d.Target)
		sum.PeakServers = max(sum.PeakServers, active+ready+nBooting)
		sum.StandbyTicks += s.Standby
	}
	res.Summary.Ticks = len(res.Samples)
	return res, nil
}
