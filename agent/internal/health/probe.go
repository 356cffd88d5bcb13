package health

import (
	"context"
	"strings"
	"unicode/utf8"
)

// maxOutput bounds the output a probe keeps: an HTTP body, a command's
// stdout and stderr. It is enough for a diagnostic line and keeps a
// misbehaving service from filling the agent's memory or logs.
const maxOutput = 4 << 10

// result is the outcome of one probe: its status and a short diagnostic.
type result struct {
	status Status
	output string
}

// probeFunc runs one probe. It returns when ctx is done at the latest, and
// it holds no goroutine or process after it returns.
type probeFunc func(ctx context.Context) result

// newProbe returns the probe for a validated config.
func newProbe(c CheckConfig) probeFunc {
	switch {
	case c.HTTP != "":
		return newHTTPProbe(c.HTTP)
	case c.TCP != "":
		return newTCPProbe(c.TCP)
	default:
		return newCommandProbe(c.Command)
	}
}

// boundedBuffer keeps the first maxOutput bytes written to it and counts
// the rest, so a writer never blocks or fails.
type boundedBuffer struct {
	buf     []byte
	dropped int64
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	n := min(len(p), maxOutput-len(b.buf))
	b.buf = append(b.buf, p[:n]...)
	b.dropped += int64(len(p) - n)
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	s := cleanOutput(b.buf)
	if b.dropped > 0 {
		s += "…"
	}
	return s
}

// cleanOutput makes probe output safe to log: valid UTF-8 without a
// trailing newline.
func cleanOutput(b []byte) string {
	s := string(b)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.TrimRight(s, "\r\n")
}
