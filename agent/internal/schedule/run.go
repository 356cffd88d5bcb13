package schedule

import (
	"context"
	"sync"
	"time"
)

// Job is work run on a schedule.
type Job struct {
	Name     string
	Schedule Schedule
	// Last is when the job last ran (the latest snapshot's time); zero
	// means never, and the job then runs at once.
	Last time.Time
	// Run does the work; runs of one job never overlap.
	Run func(ctx context.Context)
}

// Clock is the time source of [Run]; nil means the real clock.
type Clock interface {
	Now() time.Time
	// After fires once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Run runs every job at its times until ctx is done, each in its own
// goroutine, and returns once they have all stopped.
func Run(ctx context.Context, clock Clock, jobs []Job) {
	if clock == nil {
		clock = realClock{}
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() { runJob(ctx, clock, j) })
	}
	wg.Wait()
}

func runJob(ctx context.Context, clock Clock, j Job) {
	next := clock.Now()
	if !j.Last.IsZero() {
		next = j.Schedule.Next(j.Last)
	} else if _, ok := j.Schedule.(Every); !ok {
		next = j.Schedule.Next(next)
	}
	for {
		if next.IsZero() {
			return
		}
		if d := next.Sub(clock.Now()); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-clock.After(d):
			}
		}
		if ctx.Err() != nil {
			return
		}
		start := clock.Now()
		j.Run(ctx)
		next = j.Schedule.Next(start)
	}
}
