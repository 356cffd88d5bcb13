package retention

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// Policy says how many snapshots to keep per rule; zero disables a rule.
type Policy struct {
	Last    int `json:"keep_last,omitempty"`
	Hourly  int `json:"keep_hourly,omitempty"`
	Daily   int `json:"keep_daily,omitempty"`
	Weekly  int `json:"keep_weekly,omitempty"`
	Monthly int `json:"keep_monthly,omitempty"`
	Yearly  int `json:"keep_yearly,omitempty"`
}

// ErrEmptyPolicy is returned for a policy that would keep nothing.
var ErrEmptyPolicy = errors.New("retention: the policy keeps nothing (set at least one keep rule)")

// Validate reports negative counts and an empty policy.
func (p Policy) Validate() error {
	var errs []error
	for _, r := range p.rules() {
		if r.n < 0 {
			errs = append(errs, fmt.Errorf("retention: %s must not be negative", r.name))
		}
	}
	if p == (Policy{}) {
		errs = append(errs, ErrEmptyPolicy)
	}
	return errors.Join(errs...)
}

// Snapshot is what retention needs to know of a snapshot.
type Snapshot struct {
	ID   string
	Time time.Time
}

// Decision says whether a snapshot is kept and why.
type Decision struct {
	Snapshot
	Keep    bool
	Reasons []string // e.g. "last", "daily"; "future" for snapshots after now
}

type rule struct {
	name string
	n    int
	key  func(time.Time) string
}

func (p Policy) rules() []rule {
	return []rule{
		{"last", p.Last, nil},
		{"hourly", p.Hourly, func(t time.Time) string { return t.Format("2006-01-02 15") }},
		{"daily", p.Daily, func(t time.Time) string { return t.Format("2006-01-02") }},
		{"weekly", p.Weekly, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-W%02d", y, w) }},
		{"monthly", p.Monthly, func(t time.Time) string { return t.Format("2006-01") }},
		{"yearly", p.Yearly, func(t time.Time) string { return t.Format("2006") }},
	}
}

// Apply decides for each snapshot, returned newest first.
func Apply(snaps []Snapshot, p Policy, now time.Time) ([]Decision, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	ds := make([]Decision, len(snaps))
	for i, s := range snaps {
		ds[i] = Decision{Snapshot: s}
	}
	sort.SliceStable(ds, func(i, j int) bool {
		if !ds[i].Time.Equal(ds[j].Time) {
			return ds[i].Time.After(ds[j].Time)
		}
		return ds[i].ID > ds[j].ID
	})
	loc := now.Location()
	for i := range ds {
		if ds[i].Time.After(now) {
			ds[i].Keep = true
			ds[i].Reasons = append(ds[i].Reasons, "future")
		}
	}
	for _, r := range p.rules() {
		if r.n == 0 {
			continue
		}
		left := r.n
		last := "\x00"
		for i := range ds {
			if left == 0 {
				break
			}
			if ds[i].Time.After(now) {
				continue
			}
			if r.key != nil {
				k := r.key(ds[i].Time.In(loc))
				if k == last {
					continue
				}
				last = k
			}
			ds[i].Keep = true
			ds[i].Reasons = append(ds[i].Reasons, r.name)
			left--
		}
	}
	return ds, nil
}
