package standby

import (
	"math"
	"time"
)

// State is what the controller remembers between ticks. The zero State is
// the initial one (target at the floor). The leader stores it in the
// catalogue, so it is plain JSON.
type State struct {
	// Raised is true while dynamic standby holds the target above the
	// floor (PlayFab's "dynamic standby activated").
	Raised bool `json:"raised"`
	// Multiplier is the multiplier of the floor in force while Raised.
	Multiplier float64 `json:"multiplier,omitempty"`
	// LastTrigger is when a threshold last fired. Ramp-down counts from it.
	LastTrigger time.Time `json:"last_trigger,omitzero"`
}

// Observation is what the leader (or the simulator) counts in the pool at a
// tick.
type Observation struct {
	// Active is the number of allocated servers.
	Active int `json:"active"`
	// Ready is the number of idle standby servers ready to be allocated
	// (PlayFab's "actual standby"). Thresholds compare it with the floor.
	Ready int `json:"ready"`
	// Booting is the number of servers requested from the provisioner
	// that are not ready yet. They count towards the target so that a
	// request is not repeated while machines boot.
	Booting int `json:"booting"`
}

// Decision is the controller's output for one tick.
type Decision struct {
	// Target is the standby target: floor ≤ Target ≤ max_servers.
	Target int `json:"target"`
	// Request is how many servers to ask the provisioner for.
	Request int `json:"request"`
	// Release is how many idle ready standby servers to give back.
	Release int `json:"release"`
	// Fired is the threshold that fired at this tick, if any.
	Fired *Threshold `json:"fired,omitempty"`
}

// releaseStep is the most idle servers released per tick once the target is
// back at the floor: half the floor, rounded up, at least one.
func releaseStep(p Policy) int {
	return max(1, (p.StandbyFloor+1)/2)
}

// scaledTarget is ⌈floor × m⌉, bounded by max_servers. Products within 1e-9
// of a whole number count as that number, so that 10 × 1.1 is 11, not 12.
func scaledTarget(p Policy, m float64) int {
	if m <= 1 {
		return min(p.StandbyFloor, p.MaxServers)
	}
	x := float64(p.StandbyFloor) * m
	if x >= float64(p.MaxServers) {
		return p.MaxServers
	}
	return min(p.MaxServers, max(p.StandbyFloor, int(math.Ceil(x-1e-9))))
}

// Target is the standby target that st stands for under p.
func (st State) Target(p Policy) int {
	if !st.Raised || !p.DynamicStandby.Enabled {
		return scaledTarget(p, 1)
	}
	return scaledTarget(p, st.Multiplier)
}

// firing returns the most severe threshold (lowest percent) that the ready
// count has fallen strictly below, or nil.
func firing(p Policy, ready int) *Threshold {
	var best *Threshold
	for i := range p.DynamicStandby.Thresholds {
		t := &p.DynamicStandby.Thresholds[i]
		if float64(ready)*100 < t.Percent*float64(p.StandbyFloor) && (best == nil || t.Percent < best.Percent) {
			best = t
		}
	}
	return best
}

// Step runs the controller for one tick at time now. It is a pure function:
// the same inputs give the same outputs, and it never reads a clock.
//
// Rules, in order:
//   - With dynamic standby off the target is the floor and State resets.
//   - A threshold can fire only while active servers exceed the target in
//     force before this tick. The most severe threshold the ready count has
//     fallen strictly below fires; the target becomes
//     ⌈floor × its multiplier⌉. Multipliers never compound: a raised target
//     takes the larger of its multiplier and the new one, so a milder
//     threshold firing later holds the target rather than lowering it.
//   - Once raised, the target holds until ramp_down has passed since the last
//     firing (now − LastTrigger ≥ ramp_down); then it returns to the floor.
//   - Request = target − (ready + booting), never pushing active + ready +
//     booting above max_servers.
//   - While the target is at the floor, idle ready servers above it are
//     released at most [releaseStep] per tick; nothing is released while the
//     target is raised.
func Step(p Policy, st State, obs Observation, now time.Time) (State, Decision) {
	var d Decision
	if !p.DynamicStandby.Enabled {
		st = State{}
	} else {
		current := st.Target(p)
		if t := firing(p, obs.Ready); t != nil && obs.Active > current {
			if !st.Raised || t.Multiplier > st.Multiplier {
				st.Multiplier = t.Multiplier
			}
			st.Raised = true
			st.LastTrigger = now
			fired := *t
			d.Fired = &fired
		} else if st.Raised && now.Sub(st.LastTrigger) >= p.RampDown.Std() {
			st.Raised = false
			st.Multiplier = 0
		}
	}
	d.Target = st.Target(p)

	standby := obs.Ready + obs.Booting
	total := obs.Active + standby
	if missing := d.Target - standby; missing > 0 {
		d.Request = max(0, min(missing, p.MaxServers-total))
	}
	if surplus := standby - d.Target; surplus > 0 && !st.Raised {
		d.Release = min(surplus, obs.Ready, releaseStep(p))
	}
	return st, d
}
