package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule gives the time of the next run after t.
type Schedule interface {
	Next(t time.Time) time.Time
	String() string
}

// ErrBadSchedule is wrapped by every parse error.
var ErrBadSchedule = errors.New("schedule: bad schedule")

// Every runs at a fixed interval.
type Every time.Duration

// Next returns t plus the interval.
func (e Every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

func (e Every) String() string { return time.Duration(e).String() }

// Cron is a five-field cron expression: minute, hour, day of month,
// month, day of week. Fields take *, numbers, ranges (a-b), steps (*/n,
// a-b/n) and lists (a,b); months and days of week also take their English
// three-letter names; day of week 0 and 7 are Sunday. As in Vixie cron,
// when both day fields are restricted a day matching either one matches.
type Cron struct {
	spec              string
	minute, hour, dom uint64
	month, dow        uint64
	domStar, dowStar  bool
}

func (c *Cron) String() string { return c.spec }

var (
	monthNames = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
	dayNames   = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	aliases    = map[string]string{
		"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
		"@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *",
	}
)

// Parse reads an interval (a Go duration of at least one second, such as
// "1h" or "90s") or a cron expression (five fields, or @hourly, @daily,
// @weekly, @monthly, @yearly).
func Parse(spec string) (Schedule, error) {
	s := strings.TrimSpace(spec)
	if d, err := time.ParseDuration(s); err == nil {
		if d < time.Second {
			return nil, fmt.Errorf("%w: interval %q is under one second", ErrBadSchedule, spec)
		}
		return Every(d), nil
	}
	return ParseCron(s)
}

// ParseCron reads a cron expression.
func ParseCron(spec string) (*Cron, error) {
	s := strings.ToLower(strings.TrimSpace(spec))
	if a, ok := aliases[s]; ok {
		s = a
	}
	f := strings.Fields(s)
	if len(f) != 5 {
		return nil, fmt.Errorf("%w: %q: want an interval such as 1h or five cron fields (minute hour day-of-month month day-of-week)", ErrBadSchedule, spec)
	}
	c := &Cron{spec: spec}
	var err error
	fields := []struct {
		name     string
		lo, hi   int
		names    []string
		nameBase int
		out      *uint64
	}{
		{"minute", 0, 59, nil, 0, &c.minute},
		{"hour", 0, 23, nil, 0, &c.hour},
		{"day of month", 1, 31, nil, 0, &c.dom},
		{"month", 1, 12, monthNames, 1, &c.month},
		{"day of week", 0, 7, dayNames, 0, &c.dow},
	}
	for i, fd := range fields {
		if *fd.out, err = parseField(f[i], fd.lo, fd.hi, fd.names, fd.nameBase); err != nil {
			return nil, fmt.Errorf("%w: %q: %s: %v", ErrBadSchedule, spec, fd.name, err)
		}
	}
	if c.dow&(1<<7) != 0 {
		c.dow |= 1
	}
	c.domStar = f[2] == "*" || strings.HasPrefix(f[2], "*/")
	c.dowStar = f[4] == "*" || strings.HasPrefix(f[4], "*/")
	return c, nil
}

func parseField(f string, lo, hi int, names []string, base int) (uint64, error) {
	var bits uint64
	for part := range strings.SplitSeq(f, ",") {
		rng, stepS, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepS)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("bad step %q", stepS)
			}
			step = n
		}
		var a, b int
		switch {
		case rng == "*":
			a, b = lo, hi
		case strings.Contains(rng, "-"):
			as, bs, _ := strings.Cut(rng, "-")
			var err error
			if a, err = value(as, names, base); err != nil {
				return 0, err
			}
			if b, err = value(bs, names, base); err != nil {
				return 0, err
			}
		default:
			v, err := value(rng, names, base)
			if err != nil {
				return 0, err
			}
			a, b = v, v
			if hasStep {
				b = hi
			}
		}
		if a < lo || b > hi || a > b {
			return 0, fmt.Errorf("%q is outside %d-%d", part, lo, hi)
		}
		for v := a; v <= b; v += step {
			bits |= 1 << v
		}
	}
	return bits, nil
}

func value(s string, names []string, base int) (int, error) {
	for i, n := range names {
		if s == n {
			return i + base, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return v, nil
}

func (c *Cron) dayMatches(t time.Time) bool {
	dom := c.dom&(1<<t.Day()) != 0
	dow := c.dow&(1<<int(t.Weekday())) != 0
	switch {
	case c.domStar && c.dowStar:
		return true
	case c.domStar:
		return dow
	case c.dowStar:
		return dom
	default:
		return dom || dow
	}
}

// Next returns the first minute after t that the expression matches, or
// the zero time if none comes within five years (such as 30 February).
func (c *Cron) Next(t time.Time) time.Time {
	loc := t.Location()
	t = t.Truncate(time.Minute).Add(time.Minute)
	end := t.AddDate(5, 0, 0)
	for t.Before(end) {
		if c.month&(1<<int(t.Month())) == 0 {
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc)
			continue
		}
		if !c.dayMatches(t) {
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
			continue
		}
		if c.hour&(1<<t.Hour()) == 0 {
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, loc)
			continue
		}
		if c.minute&(1<<t.Minute()) == 0 {
			t = t.Add(time.Minute)
			continue
		}
		return t
	}
	return time.Time{}
}
