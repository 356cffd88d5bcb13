package health

import (
	"testing"

	"pgregory.net/rapid"
)

// letters maps the one-letter notation of the tables to statuses.
var letters = map[byte]Status{'P': Passing, 'W': Warning, 'C': Critical}

func statuses(t *testing.T, s string) []Status {
	t.Helper()
	out := make([]Status, len(s))
	for i := range len(s) {
		st, ok := letters[s[i]]
		if !ok {
			t.Fatalf("bad letter %q in %q", s[i], s)
		}
		out[i] = st
	}
	return out
}

func TestNext(t *testing.T) {
	t.Parallel()
	// settled is a check that has been critical long enough to have full
	// streaks, as opposed to one that has just started.
	settled := func(f int) State { return State{Status: Critical, Failures: f, NotPassing: f} }
	cases := []struct {
		name    string
		f, s    int
		start   State // zero: InitialState
		results string
		want    string // status after each result
	}{
		// Thresholds of 1 report every result as it comes.
		{name: "no damping", f: 1, s: 1, results: "PWCPCWP", want: "PWCPCWP"},
		{name: "zero thresholds count as one", f: 0, s: 0, results: "PCWP", want: "PCWP"},
		{name: "negative thresholds count as one", f: -3, s: -3, results: "PCP", want: "PCP"},

		// Starting: critical until the success threshold is met.
		{name: "start passes at S=1", f: 2, s: 1, results: "P", want: "P"},
		{name: "start passes at S=2", f: 2, s: 2, results: "PP", want: "CP"},
		{name: "start passes at S=3", f: 2, s: 3, results: "PPP", want: "CCP"},
		{name: "start interrupted by a failure", f: 2, s: 3, results: "PPCPPP", want: "CCCCCP"},
		{name: "start interrupted by a warning", f: 2, s: 2, results: "PWPP", want: "CCCP"},
		{name: "start with warnings needs F of them", f: 2, s: 2, results: "WW", want: "CW"},
		{name: "start with warnings F=3", f: 3, s: 2, results: "WWW", want: "CCW"},

		// Passing to critical: F consecutive critical results.
		{name: "passing, F=1", f: 1, s: 2, start: State{Status: Passing}, results: "C", want: "C"},
		{name: "passing, F=2", f: 2, s: 2, start: State{Status: Passing}, results: "CC", want: "PC"},
		{name: "passing, F=3", f: 3, s: 2, start: State{Status: Passing}, results: "CCC", want: "PPC"},
		{name: "passing, F=3 interrupted", f: 3, s: 2, start: State{Status: Passing}, results: "CCPCCC", want: "PPPPPC"},
		{name: "passing, F=3 past threshold stays", f: 3, s: 2, start: State{Status: Passing}, results: "CCCCC", want: "PPCCC"},

		// Passing to warning: F consecutive results that are not passing,
		// not all critical.
		{name: "passing, warnings F=2", f: 2, s: 2, start: State{Status: Passing}, results: "WW", want: "PW"},
		{name: "passing, warning then critical", f: 2, s: 2, start: State{Status: Passing}, results: "WC", want: "PW"},
		{name: "passing, critical then warning", f: 2, s: 2, start: State{Status: Passing}, results: "CW", want: "PW"},
		{name: "warning, then F criticals", f: 2, s: 2, start: State{Status: Passing}, results: "WCC", want: "PWC"},
		{name: "passing, single warning", f: 2, s: 2, start: State{Status: Passing}, results: "WP", want: "PP"},

		// Back to passing: S consecutive passing results.
		{name: "critical, S=2", f: 2, s: 2, start: settled(2), results: "PP", want: "CP"},
		{name: "critical, S=3", f: 2, s: 3, start: settled(2), results: "PPP", want: "CCP"},
		{name: "critical, S=3 interrupted", f: 2, s: 3, start: settled(2), results: "PPCPPP", want: "CCCCCP"},
		{name: "warning, S=2", f: 2, s: 2, start: State{Status: Warning, NotPassing: 2}, results: "PP", want: "WP"},
		{name: "warning, S=2 interrupted", f: 2, s: 2, start: State{Status: Warning, NotPassing: 2}, results: "PWPP", want: "WWWP"},

		// Between warning and critical.
		{name: "critical answers with a warning", f: 2, s: 2, start: settled(2), results: "W", want: "W"},
		{name: "warning needs F criticals", f: 3, s: 2, start: State{Status: Warning, NotPassing: 3}, results: "CCC", want: "WWC"},
		{name: "warning with a warning between criticals", f: 2, s: 2, start: State{Status: Warning, NotPassing: 2}, results: "CWCWC", want: "WWWWW"},

		// Alternating results never reach a threshold.
		{name: "passing, alternating P/C", f: 2, s: 2, start: State{Status: Passing}, results: "CPCPCPCPCP", want: "PPPPPPPPPP"},
		{name: "critical, alternating P/C", f: 2, s: 2, start: settled(2), results: "PCPCPCPCPC", want: "CCCCCCCCCC"},
		{name: "passing, alternating P/W", f: 2, s: 2, start: State{Status: Passing}, results: "WPWPWPWP", want: "PPPPPPPP"},
		{name: "start, alternating P/C", f: 2, s: 2, results: "PCPCPCPC", want: "CCCCCCCC"},
		{name: "warning, alternating P/W", f: 2, s: 2, start: State{Status: Warning, NotPassing: 2}, results: "PWPWPW", want: "WWWWWW"},
		{name: "passing, two bad two good", f: 3, s: 3, start: State{Status: Passing}, results: "CCPPCCPP", want: "PPPPPPPP"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			th := Thresholds{FailuresBeforeCritical: tc.f, SuccessesBeforePassing: tc.s}
			st := tc.start
			if st == (State{}) {
				st = InitialState()
			}
			results, want := statuses(t, tc.results), statuses(t, tc.want)
			if len(results) != len(want) {
				t.Fatalf("bad case: %d results, %d wanted statuses", len(results), len(want))
			}
			var got []byte
			for _, r := range results {
				st = Next(st, r, th)
				got = append(got, st.Status[0]-'a'+'A')
			}
			if string(got) != tc.want {
				t.Errorf("Next over %s from %+v = %s, want %s", tc.results, tc.start, got, tc.want)
			}
		})
	}
}

func TestNextUnknownResultIsCritical(t *testing.T) {
	t.Parallel()
	got := Next(State{Status: Passing}, Status("bogus"), Thresholds{1, 1})
	if want := (State{Status: Critical, Failures: 1, NotPassing: 1}); got != want {
		t.Errorf("Next(passing, bogus) = %+v, want %+v", got, want)
	}
}

// TestNextStreaksAreBounded checks that streaks stop at their thresholds,
// so a long outage leaves no overhang: recovery needs exactly S successes.
func TestNextStreaksAreBounded(t *testing.T) {
	t.Parallel()
	th := Thresholds{FailuresBeforeCritical: 3, SuccessesBeforePassing: 2}
	st := InitialState()
	for range 1000 {
		st = Next(st, Critical, th)
	}
	if want := (State{Status: Critical, Failures: 3, NotPassing: 3}); st != want {
		t.Fatalf("after 1000 failures: %+v, want %+v", st, want)
	}
	for range 1000 {
		st = Next(st, Passing, th)
	}
	if want := (State{Status: Passing, Successes: 2}); st != want {
		t.Fatalf("after 1000 successes: %+v, want %+v", st, want)
	}
}

// TestNextProperties checks, over random thresholds and results, that every
// change of status is backed by a full streak of results.
func TestNextProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		th := Thresholds{
			FailuresBeforeCritical: rapid.IntRange(1, 5).Draw(t, "f"),
			SuccessesBeforePassing: rapid.IntRange(1, 5).Draw(t, "s"),
		}
		results := rapid.SliceOfN(rapid.SampledFrom([]Status{Passing, Warning, Critical}), 1, 60).Draw(t, "results")
		st := InitialState()
		last := func(i, n int, ok func(Status) bool) bool {
			if i+1 < n {
				return false
			}
			for _, r := range results[i+1-n : i+1] {
				if !ok(r) {
					return false
				}
			}
			return true
		}
		for i, r := range results {
			next := Next(st, r, th)
			if !next.Status.Valid() {
				t.Fatalf("step %d: invalid status %q", i, next.Status)
			}
			if next.Status != st.Status {
				switch next.Status {
				case Passing:
					if !last(i, th.SuccessesBeforePassing, func(s Status) bool { return s == Passing }) {
						t.Fatalf("step %d: passing without %d passing results in a row", i, th.SuccessesBeforePassing)
					}
				case Critical:
					if !last(i, th.FailuresBeforeCritical, func(s Status) bool { return s == Critical }) {
						t.Fatalf("step %d: critical without %d critical results in a row", i, th.FailuresBeforeCritical)
					}
				case Warning:
					if !last(i, th.FailuresBeforeCritical, func(s Status) bool { return s != Passing }) {
						t.Fatalf("step %d: warning without %d bad results in a row", i, th.FailuresBeforeCritical)
					}
				}
			}
			// The status after a full streak is what the streak says.
			switch {
			case last(i, th.SuccessesBeforePassing, func(s Status) bool { return s == Passing }):
				if next.Status != Passing {
					t.Fatalf("step %d: %d passing results in a row but %s", i, th.SuccessesBeforePassing, next.Status)
				}
			case last(i, th.FailuresBeforeCritical, func(s Status) bool { return s == Critical }):
				if next.Status != Critical {
					t.Fatalf("step %d: %d critical results in a row but %s", i, th.FailuresBeforeCritical, next.Status)
				}
			}
			st = next
		}
	})
}
