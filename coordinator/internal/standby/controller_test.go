package standby

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// playfabPolicy is the policy of PlayFab's example with the 5% third
// threshold.
func playfabPolicy() Policy {
	return Policy{
		StandbyFloor: 10,
		MaxServers:   100,
		RampDown:     Duration(30 * time.Minute),
		DynamicStandby: DynamicStandby{Enabled: true, Thresholds: []Threshold{
			{Percent: 50, Multiplier: 1.5}, {Percent: 25, Multiplier: 3}, {Percent: 5, Multiplier: 4},
		}},
	}
}

// finePolicy has a floor of 100 so that one server is one percent and every
// threshold boundary can be hit exactly, just below and just above.
func finePolicy() Policy {
	p := playfabPolicy()
	p.StandbyFloor = 100
	p.MaxServers = 1000
	return p
}

func TestStepThresholdBoundaries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		ready      int
		wantTarget int
		wantFired  float64 // percent of the fired threshold, 0 for none
	}{
		{"full", 100, 100, 0},
		{"above 50%", 51, 100, 0},
		{"exactly 50%", 50, 100, 0},
		{"below 50%", 49, 150, 50},
		{"above 25%", 26, 150, 50},
		{"exactly 25%", 25, 150, 50},
		{"below 25%", 24, 300, 25},
		{"above 5%", 6, 300, 25},
		{"exactly 5%", 5, 300, 25},
		{"below 5%", 4, 400, 5},
		{"empty", 0, 400, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := finePolicy()
			st, d := Step(p, State{}, Observation{Active: 500, Ready: tc.ready}, t0)
			if d.Target != tc.wantTarget {
				t.Errorf("target = %d, want %d", d.Target, tc.wantTarget)
			}
			var fired float64
			if d.Fired != nil {
				fired = d.Fired.Percent
			}
			if fired != tc.wantFired {
				t.Errorf("fired = %v%%, want %v%%", fired, tc.wantFired)
			}
			if st.Raised != (tc.wantFired != 0) {
				t.Errorf("raised = %v, want %v", st.Raised, tc.wantFired != 0)
			}
			if want := max(0, tc.wantTarget-tc.ready); d.Request != want {
				t.Errorf("request = %d, want %d (exactly what is missing)", d.Request, want)
			}
		})
	}
}

func TestStepActiveMustExceedTarget(t *testing.T) {
	t.Parallel()
	p := playfabPolicy()
	for _, tc := range []struct {
		active     int
		wantTarget int
	}{
		{9, 10}, {10, 10}, {11, 15},
	} {
		_, d := Step(p, State{}, Observation{Active: tc.active, Ready: 4}, t0)
		if d.Target != tc.wantTarget {
			t.Errorf("active %d, ready 4: target = %d, want %d", tc.active, d.Target, tc.wantTarget)
		}
	}
	// Once raised to 15, active must exceed 15 for a further trigger.
	st, _ := Step(p, State{}, Observation{Active: 11, Ready: 4}, t0)
	st2, d := Step(p, st, Observation{Active: 15, Ready: 1}, t0.Add(time.Minute))
	if d.Fired != nil || d.Target != 15 || !st2.LastTrigger.Equal(t0) {
		t.Errorf("active 15 = target: fired %v, target %d, last trigger %v; want no trigger, 15, %v", d.Fired, d.Target, st2.LastTrigger, t0)
	}
	_, d = Step(p, st, Observation{Active: 16, Ready: 1}, t0.Add(time.Minute))
	if d.Fired == nil || d.Target != 30 {
		t.Errorf("active 16 > target 15, ready 1: fired %v, target %d; want 25%% and 30", d.Fired, d.Target)
	}
}

func TestStepHoldAndRampDown(t *testing.T) {
	t.Parallel()
	p := playfabPolicy()
	type tick struct {
		at         time.Duration
		obs        Observation
		wantTarget int
		wantRaised bool
	}
	ticks := []tick{
		{0, Observation{Active: 20, Ready: 10}, 10, false},
		{1 * time.Minute, Observation{Active: 30, Ready: 2}, 30, true},   // 20% < 25%: 3x
		{2 * time.Minute, Observation{Active: 40, Ready: 4}, 30, true},   // 40% < 50% fires 1.5x: holds 3x, resets the clock
		{3 * time.Minute, Observation{Active: 50, Ready: 0}, 40, true},   // 0% < 5%: escalates to 4x
		{4 * time.Minute, Observation{Active: 50, Ready: 30}, 40, true},  // no trigger
		{32 * time.Minute, Observation{Active: 50, Ready: 40}, 40, true}, // 29m after the last trigger
		{33*time.Minute - time.Nanosecond, Observation{Active: 50, Ready: 40}, 40, true},
		{33 * time.Minute, Observation{Active: 50, Ready: 40}, 10, false}, // exactly ramp_down: back to the floor
		{34 * time.Minute, Observation{Active: 50, Ready: 35}, 10, false},
	}
	var st State
	for _, tc := range ticks {
		var d Decision
		st, d = Step(p, st, tc.obs, t0.Add(tc.at))
		if d.Target != tc.wantTarget || st.Raised != tc.wantRaised {
			t.Fatalf("at +%s: target %d raised %v, want %d %v", tc.at, d.Target, st.Raised, tc.wantTarget, tc.wantRaised)
		}
	}
}

func TestStepRelease(t *testing.T) {
	t.Parallel()
	p := playfabPolicy() // floor 10: release step 5
	raised := State{Raised: true, Multiplier: 3, LastTrigger: t0}
	tests := []struct {
		name        string
		st          State
		at          time.Duration
		obs         Observation
		wantRelease int
		wantRequest int
	}{
		{"raised holds surplus", raised, time.Minute, Observation{Active: 5, Ready: 50}, 0, 0},
		{"after ramp-down releases one step", raised, 30 * time.Minute, Observation{Active: 5, Ready: 50}, 5, 0},
		{"small surplus released whole", State{}, 0, Observation{Ready: 12}, 2, 0},
		{"booting counts, only ready released", State{}, 0, Observation{Ready: 3, Booting: 20}, 3, 0},
		{"at floor nothing", State{}, 0, Observation{Ready: 10}, 0, 0},
		{"missing is requested", State{}, 0, Observation{Ready: 4, Booting: 3}, 0, 3},
		{"max_servers caps the request", raised, time.Minute, Observation{Active: 90, Ready: 4}, 0, 6},
		{"over max_servers requests nothing", raised, time.Minute, Observation{Active: 99, Ready: 4}, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, d := Step(p, tc.st, tc.obs, t0.Add(tc.at))
			if d.Release != tc.wantRelease || d.Request != tc.wantRequest {
				t.Errorf("release %d request %d, want %d %d (target %d)", d.Release, d.Request, tc.wantRelease, tc.wantRequest, d.Target)
			}
		})
	}
}

func TestStepDisabledStaysAtFloor(t *testing.T) {
	t.Parallel()
	p := playfabPolicy()
	p.DynamicStandby.Enabled = false
	st, d := Step(p, State{Raised: true, Multiplier: 4, LastTrigger: t0}, Observation{Active: 80, Ready: 0}, t0)
	if d.Target != 10 || d.Request != 10 || st != (State{}) || d.Fired != nil {
		t.Errorf("disabled: target %d request %d state %+v fired %v; want 10, 10, zero, nil", d.Target, d.Request, st, d.Fired)
	}
}

func TestScaledTargetRounding(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		floor, max int
		m          float64
		want       int
	}{
		{10, 100, 1.1, 11}, // 11.000000000000002 must not round to 12
		{10, 100, 1.5, 15},
		{7, 100, 1.5, 11}, // 10.5 rounds up
		{3, 100, 1.01, 4},
		{10, 35, 4, 35}, // capped at max_servers
		{10, 100, 1, 10},
		{10, 100, 1e300, 100},
	} {
		p := Policy{StandbyFloor: tc.floor, MaxServers: tc.max}
		if got := scaledTarget(p, tc.m); got != tc.want {
			t.Errorf("scaledTarget(floor %d, max %d, ×%v) = %d, want %d", tc.floor, tc.max, tc.m, got, tc.want)
		}
	}
}
