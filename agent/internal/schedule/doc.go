// Package schedule says when dataset jobs run: a [Schedule] is an
// interval ("1h", "90s") or a five-field cron expression ("0 3 * * *"),
// parsed here without a dependency, and [Run] runs jobs at their times.
//
// A Schedule is a pure function from the previous run to the next one:
// Schedule.Next(t) for an interval is t plus the interval, for a cron
// expression the first matching minute after t (in t's time zone). A job
// whose next time has passed (the agent was down, or a run took longer than
// the interval) runs at once, once: missed runs are not replayed.
//
// This package imports nothing from Understudy.
package schedule
