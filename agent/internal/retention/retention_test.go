package retention

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestApply(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC) // a Tuesday
	at := func(d time.Duration) time.Time { return base.Add(d) }
	// Every 6 hours for 30 days, newest at base.
	var hourly []Snapshot
	for i := range 120 {
		hourly = append(hourly, Snapshot{ID: time.Duration(i).String(), Time: at(-time.Duration(i) * 6 * time.Hour)})
	}
	ids := func(snaps []Snapshot, idx ...int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, snaps[i].ID)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		snaps []Snapshot
		p     Policy
		now   time.Time
		keep  []string
	}{
		{"last 3", hourly, Policy{Last: 3}, base, ids(hourly, 0, 1, 2)},
		// The newest per day: base day 12:00, then 18:00 of each earlier day.
		{"daily 3", hourly, Policy{Daily: 3}, base, ids(hourly, 0, 3, 7)},
		{"last 1 + daily 2 overlap", hourly, Policy{Last: 1, Daily: 2}, base, ids(hourly, 0, 3)},
		{"hourly 2", hourly, Policy{Hourly: 2}, base, ids(hourly, 0, 1)},
		// Weeks (Mon–Sun): 10 Mar (Tue) is in W11; W10 newest is Sun 8 Mar 18:00 = index 7; W09 newest is Sun 1 Mar 18:00 = index 35.
		{"weekly 3", hourly, Policy{Weekly: 3}, base, ids(hourly, 0, 7, 35)},
		// Months: March (index 0), February's newest is 28 Feb 18:00 = index 39.
		{"monthly 5", hourly, Policy{Monthly: 5}, base, ids(hourly, 0, 39)},
		{"yearly 1", hourly, Policy{Yearly: 1}, base, ids(hourly, 0)},
		{"future kept", []Snapshot{{"f", at(time.Hour)}, {"a", at(0)}, {"b", at(-time.Minute)}}, Policy{Last: 1}, base, []string{"f", "a"}},
		{"empty input", nil, Policy{Last: 1}, base, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := Apply(tc.snaps, tc.p, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range ds {
				if d.Keep {
					got = append(got, d.ID)
				}
			}
			if !slices.Equal(got, tc.keep) {
				t.Errorf("kept %v, want %v", got, tc.keep)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	if _, err := Apply(nil, Policy{}, time.Now()); !errors.Is(err, ErrEmptyPolicy) {
		t.Errorf("empty policy: err = %v", err)
	}
	if err := (Policy{Daily: -1}).Validate(); err == nil {
		t.Errorf("negative count accepted")
	}
}
