package health

// Thresholds are a check's anti-flap counts. A value below 1 counts as 1.
type Thresholds struct {
	// FailuresBeforeCritical is the number of consecutive critical results
	// that make a check critical, and the number of consecutive results
	// that are not passing that take a passing check out of passing.
	FailuresBeforeCritical int
	// SuccessesBeforePassing is the number of consecutive passing results
	// that make a check passing.
	SuccessesBeforePassing int
}

// State is a check's status plus the streaks of results that decide its
// next change. Streaks stop counting at the threshold they are compared
// with, so a State never grows and two checks in the same situation have
// equal States.
type State struct {
	Status Status
	// Successes counts consecutive passing results.
	Successes int
	// Failures counts consecutive critical results.
	Failures int
	// NotPassing counts consecutive results that were warning or critical.
	NotPassing int
}

// InitialState is the state of a check that has not run yet: critical, with
// no streaks. Like Consul, Understudy assumes the worst until it has seen the
// service answer: an agent that has just started must not put a dead
// service back into DNS, and a healthy one is passing after
// successes_before_passing intervals.
func InitialState() State { return State{Status: Critical} }

// Next returns the state after one more probe result. It is a pure function.
//
// The rules, first match wins:
//
//   - SuccessesBeforePassing consecutive passing results: passing.
//   - FailuresBeforeCritical consecutive critical results: critical.
//   - FailuresBeforeCritical consecutive results that were not passing, a mix
//     of warning and critical: warning. The service is failing, but not
//     steadily dead.
//   - Otherwise the status does not change.
//
// So a passing check leaves passing only after FailuresBeforeCritical bad
// results in a row, and lands on critical only if they were all critical;
// any passing result in between restarts the count. A warning or critical
// check returns to passing only after SuccessesBeforePassing good results
// in a row. A critical check that has been failing for at least
// FailuresBeforeCritical results moves to warning on its first warning
// result (the service answers again, though it is not well) and needs
// FailuresBeforeCritical critical results in a row to go back to critical.
// Results that alternate never reach a threshold, so they never change the
// status. A result that is not a valid [Status] counts as critical.
func Next(s State, result Status, t Thresholds) State {
	failMax := max(t.FailuresBeforeCritical, 1)
	passMax := max(t.SuccessesBeforePassing, 1)
	switch result {
	case Passing:
		s.Successes = min(s.Successes+1, passMax)
		s.Failures, s.NotPassing = 0, 0
	case Warning:
		s.Successes, s.Failures = 0, 0
		s.NotPassing = min(s.NotPassing+1, failMax)
	default:
		s.Successes = 0
		s.Failures = min(s.Failures+1, failMax)
		s.NotPassing = min(s.NotPassing+1, failMax)
	}
	switch {
	case s.Successes >= passMax:
		s.Status = Passing
	case s.Failures >= failMax:
		s.Status = Critical
	case s.NotPassing >= failMax:
		s.Status = Warning
	}
	return s
}
