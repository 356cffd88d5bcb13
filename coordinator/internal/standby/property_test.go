package standby

import (
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// genPolicy draws a valid policy.
func genPolicy(t *rapid.T) Policy {
	floor := rapid.IntRange(1, 40).Draw(t, "floor")
	p := Policy{
		StandbyFloor: floor,
		MaxServers:   rapid.IntRange(floor, 300).Draw(t, "max"),
		RampDown:     Duration(time.Duration(rapid.IntRange(0, 45).Draw(t, "rampMinutes")) * time.Minute),
	}
	p.DynamicStandby.Enabled = rapid.Bool().Draw(t, "enabled")
	pcts := rapid.SliceOfNDistinct(rapid.IntRange(1, 100), 1, 4, rapid.ID).Draw(t, "percents")
	mults := rapid.SliceOfN(rapid.Float64Range(1, 6), len(pcts), len(pcts)).Draw(t, "multipliers")
	slices.Sort(pcts)
	slices.Sort(mults)
	slices.Reverse(mults) // lowest percent gets the largest multiplier
	for i := range pcts {
		p.DynamicStandby.Thresholds = append(p.DynamicStandby.Thresholds, Threshold{Percent: float64(pcts[i]), Multiplier: mults[i]})
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("generated an invalid policy: %v", err)
	}
	return p
}

// checkTargetDrop fails unless a drop of the target at now is allowed: the
// last trigger is at least ramp_down ago.
func checkTargetDrop(t *rapid.T, p Policy, prev, cur int, lastFired time.Time, now time.Time) {
	if cur < prev && !lastFired.IsZero() && now.Sub(lastFired) < p.RampDown.Std() {
		t.Fatalf("target dropped from %d to %d at %s, only %s after the last trigger (ramp_down %s)",
			prev, cur, now, now.Sub(lastFired), p.RampDown)
	}
}

func TestPropertySimulatedDemand(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPolicy(t)
		n := rapid.IntRange(1, 150).Draw(t, "ticks")
		tr := Trace{Kind: Demand}
		for i := range n {
			tr.Rows = append(tr.Rows, TraceRow{
				Tick: i,
				A:    rapid.IntRange(0, 25).Draw(t, "allocate"),
				B:    rapid.IntRange(0, 25).Draw(t, "deallocate"),
			})
		}
		cfg := DefaultSimConfig()
		cfg.ProvisionDelay = time.Duration(rapid.IntRange(0, 5).Draw(t, "delayMinutes")) * time.Minute
		res, err := Simulate(p, tr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Summary.PeakServers > p.MaxServers {
			t.Fatalf("peak servers %d above max_servers %d", res.Summary.PeakServers, p.MaxServers)
		}
		var lastFired time.Time
		for i, s := range res.Samples {
			now := cfg.Start.Add(s.Elapsed.Std())
			if s.Target < p.StandbyFloor || s.Target > p.MaxServers {
				t.Fatalf("t=%d: target %d outside [floor %d, max %d]", s.Tick, s.Target, p.StandbyFloor, p.MaxServers)
			}
			if total := s.Active + s.Standby + s.Booting; total > p.MaxServers {
				t.Fatalf("t=%d: %d servers, above max_servers %d", s.Tick, total, p.MaxServers)
			}
			if s.Fired != 0 {
				lastFired = now
			}
			if i > 0 {
				checkTargetDrop(t, p, res.Samples[i-1].Target, s.Target, lastFired, now)
			}
			if !p.DynamicStandby.Enabled && s.Target != p.StandbyFloor {
				t.Fatalf("t=%d: dynamic standby off but target %d is not the floor %d", s.Tick, s.Target, p.StandbyFloor)
			}
		}
	})
}

// TestPropertyObservedCounts drives Step with arbitrary observations and
// irregular tick gaps, as a leader would see after failovers and restarts.
func TestPropertyObservedCounts(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPolicy(t)
		var (
			st        State
			prev      = -1
			lastFired time.Time
		)
		now := t0
		for range rapid.IntRange(1, 100).Draw(t, "ticks") {
			now = now.Add(time.Duration(rapid.IntRange(1, 600).Draw(t, "gapSeconds")) * time.Second)
			obs := Observation{
				Active:  rapid.IntRange(0, p.MaxServers+20).Draw(t, "active"),
				Ready:   rapid.IntRange(0, 2*p.StandbyFloor).Draw(t, "ready"),
				Booting: rapid.IntRange(0, p.StandbyFloor).Draw(t, "booting"),
			}
			var d Decision
			st, d = Step(p, st, obs, now)
			if d.Target < p.StandbyFloor || d.Target > p.MaxServers {
				t.Fatalf("target %d outside [floor %d, max %d]", d.Target, p.StandbyFloor, p.MaxServers)
			}
			total := obs.Active + obs.Ready + obs.Booting
			if d.Request < 0 || (d.Request > 0 && total+d.Request > p.MaxServers) {
				t.Fatalf("request %d with %d servers exceeds max_servers %d", d.Request, total, p.MaxServers)
			}
			if d.Request > 0 && obs.Ready+obs.Booting+d.Request > d.Target {
				t.Fatalf("request %d overshoots target %d (ready %d booting %d)", d.Request, d.Target, obs.Ready, obs.Booting)
			}
			if d.Release < 0 || d.Release > obs.Ready || (d.Release > 0 && d.Request > 0) {
				t.Fatalf("release %d request %d with %d ready", d.Release, d.Request, obs.Ready)
			}
			if d.Fired != nil {
				lastFired = now
			}
			if prev >= 0 {
				checkTargetDrop(t, p, prev, d.Target, lastFired, now)
			}
			prev = d.Target
		}
	})
}
