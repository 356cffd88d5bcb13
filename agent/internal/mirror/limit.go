package mirror

import (
	"context"
	"io"
	"time"
)

// limiter is a token bucket over bytes: rate bytes per second, holding at
// most burst. Writes wait for tokens rather than queue data.
type limiter struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
}

func newLimiter(rate int64) *limiter {
	return &limiter{rate: float64(rate), burst: max(float64(rate)/20, 64<<10), now: time.Now, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// wait takes n tokens (n ≤ burst), sleeping until they are there.
func (l *limiter) wait(ctx context.Context, n int) error {
	now := l.now()
	if l.last.IsZero() {
		l.tokens = l.burst
	} else {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	l.tokens -= float64(n)
	if l.tokens >= 0 {
		return nil
	}
	return l.sleep(ctx, time.Duration(-l.tokens/l.rate*float64(time.Second)))
}

// limitedWriter passes writes through a limiter in pieces of at most
// the bucket's size.
type limitedWriter struct {
	ctx context.Context
	w   io.Writer
	l   *limiter
}

func (lw limitedWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		k := min(len(p), int(lw.l.burst))
		if err := lw.l.wait(lw.ctx, k); err != nil {
			return written, err
		}
		n, err := lw.w.Write(p[:k])
		written += n
		if err != nil {
			return written, err
		}
		p = p[k:]
	}
	return written, nil
}
