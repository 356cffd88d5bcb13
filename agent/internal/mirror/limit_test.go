package mirror

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// TestLimiterRate writes through a limiter on a fake clock and checks the
// time it made the writer wait.
func TestLimiterRate(t *testing.T) {
	const rate = 1 << 20
	now := time.Unix(0, 0)
	l := newLimiter(rate)
	l.now = func() time.Time { return now }
	l.sleep = func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil }
	var out bytes.Buffer
	w := limitedWriter{ctx: context.Background(), w: &out, l: l}
	data := make([]byte, 10<<20)
	for i := 0; i < len(data); i += 100 << 10 {
		if _, err := w.Write(data[i:min(i+100<<10, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	if out.Len() != len(data) {
		t.Fatalf("wrote %d of %d bytes", out.Len(), len(data))
	}
	// 10 MiB at 1 MiB/s, less the initial burst.
	want := 10*time.Second - time.Duration(l.burst/rate*float64(time.Second))
	if got := now.Sub(time.Unix(0, 0)); got < want-10*time.Millisecond || got > want+10*time.Millisecond {
		t.Errorf("writing took %v on the fake clock, want %v", got, want)
	}
}
