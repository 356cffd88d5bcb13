package schedule_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/understudy/understudy/agent/internal/schedule"
)

func TestNext(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name, spec, from, want string
	}{
		{"interval", "1h", "2026-11-22 01:30", "2026-11-22 02:30"},
		{"interval seconds", "90s", "2026-11-22 01:30", "2026-11-22 01:31"}, // 01:31:30, truncated
		{"nightly", "0 3 * * *", "2026-11-22 01:30", "2026-11-22 03:00"},
		{"nightly after time", "0 3 * * *", "2026-11-22 03:00", "2026-11-23 03:00"},
		{"every minute", "* * * * *", "2026-11-22 01:30", "2026-11-22 01:31"},
		{"step", "*/15 * * * *", "2026-11-22 01:31", "2026-11-22 01:45"},
		{"range step", "10-40/10 9-17 * * *", "2026-11-22 17:41", "2026-11-23 09:10"},
		{"list", "5,35 * * * *", "2026-11-22 01:06", "2026-11-22 01:35"},
		{"weekday name", "0 2 * * mon", "2026-11-22 01:00", "2026-11-23 02:00"}, // 22 Nov 2026 is a Sunday
		{"sunday as 7", "0 2 * * 7", "2026-11-22 03:00", "2026-11-29 02:00"},
		{"day range", "0 0 * * mon-fri", "2026-11-21 12:00", "2026-11-23 00:00"},
		{"month name", "0 0 1 jan *", "2026-11-22 00:00", "2027-01-01 00:00"},
		{"dom or dow", "0 0 1 * fri", "2026-11-22 00:00", "2026-11-27 00:00"},
		{"month end", "0 0 31 * *", "2026-11-01 00:00", "2026-12-31 00:00"},
		{"leap day", "0 0 29 2 *", "2026-03-01 00:00", "2028-02-29 00:00"},
		{"alias", "@daily", "2026-11-22 01:00", "2026-11-23 00:00"},
		{"never", "0 0 30 2 *", "2026-01-01 00:00", "0001-01-01 00:00"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := schedule.Parse(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			got := s.Next(utc(c.from)).Truncate(time.Minute)
			if !got.Equal(utc(c.want)) {
				t.Errorf("Parse(%q).Next(%s) = %s, want %s", c.spec, c.from, got.Format("2006-01-02 15:04 Mon"), c.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{"", "1ms", "0 3 * *", "0 3 * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *",
		"* * * 13 *", "* * * * 8", "*/0 * * * *", "5-1 * * * *", "x * * * *", "* * * foo *", "-1h"} {
		if _, err := schedule.Parse(spec); !errors.Is(err, schedule.ErrBadSchedule) {
			t.Errorf("Parse(%q) = %v, want ErrBadSchedule", spec, err)
		}
	}
}

// TestRun runs jobs on the virtual clock of a synctest bubble.
func TestRun(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		hourly, _ := schedule.Parse("1h")
		nightly, _ := schedule.Parse("0 3 * * *")
		var mu sync.Mutex
		runs := map[string][]time.Duration{}
		record := func(name string, took time.Duration) func(context.Context) {
			return func(ctx context.Context) {
				mu.Lock()
				runs[name] = append(runs[name], time.Since(start))
				mu.Unlock()
				time.Sleep(took)
			}
		}
		ctx, cancel := context.WithTimeout(t.Context(), 28*time.Hour+time.Second)
		defer cancel()
		schedule.Run(ctx, nil, []schedule.Job{
			{Name: "fresh", Schedule: hourly, Run: record("fresh", time.Minute)},
			// Last ran 30 minutes ago: next in 30 minutes.
			{Name: "recent", Schedule: hourly, Last: start.Add(-30 * time.Minute), Run: record("recent", 0)},
			// Last ran three hours ago: overdue, runs at once, then hourly.
			{Name: "overdue", Schedule: hourly, Last: start.Add(-3 * time.Hour), Run: record("overdue", 0)},
			// A run longer than the interval: the next starts right after.
			{Name: "slow", Schedule: hourly, Run: record("slow", 90*time.Minute)},
			{Name: "nightly", Schedule: nightly, Run: record("nightly", 0)},
		})
		h := time.Hour
		check := func(name string, want ...time.Duration) {
			got := runs[name]
			if len(got) < len(want) {
				t.Errorf("%s ran at %v, want at least %v", name, got, want)
				return
			}
			for i, w := range want {
				if got[i] != w {
					t.Errorf("%s run %d at %v, want %v", name, i, got[i], w)
				}
			}
		}
		check("fresh", 0, h, 2*h, 3*h)
		check("recent", 30*time.Minute, 90*time.Minute)
		check("overdue", 0, h)
		check("slow", 0, 90*time.Minute, 180*time.Minute)
		n := time.Date(start.Year(), start.Month(), start.Day(), 3, 0, 0, 0, start.Location())
		if !n.After(start) {
			n = n.AddDate(0, 0, 1)
		}
		check("nightly", n.Sub(start), n.AddDate(0, 0, 1).Sub(start))
		if got := len(runs["fresh"]); got != 29 {
			t.Errorf("fresh ran %d times in 28 hours, want 29", got)
		}
	})
}

// instantClock is an injected clock on which waiting takes no time: After
// moves now forward by d and fires at once.
type instantClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *instantClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *instantClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}

// TestRunInjectedClock runs a cron job on an injected clock and checks the
// times it ran at.
func TestRunInjectedClock(t *testing.T) {
	t.Parallel()
	clock := &instantClock{now: time.Date(2026, 11, 22, 1, 30, 0, 0, time.UTC)}
	s, _ := schedule.Parse("0 3,15 * * *")
	var got []time.Time
	ctx, cancel := context.WithCancel(t.Context())
	schedule.Run(ctx, clock, []schedule.Job{{Name: "twice a day", Schedule: s, Run: func(context.Context) {
		got = append(got, clock.Now())
		if len(got) == 4 {
			cancel()
		}
	}}})
	want := []string{"2026-11-22 03:00", "2026-11-22 15:00", "2026-11-23 03:00", "2026-11-23 15:00"}
	if len(got) != len(want) {
		t.Fatalf("ran at %v, want %v", got, want)
	}
	for i, w := range want {
		if g := got[i].Format("2006-01-02 15:04"); g != w {
			t.Errorf("run %d at %s, want %s", i, g, w)
		}
	}
}
