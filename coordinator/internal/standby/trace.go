package standby

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// TraceKind says what the rows of a [Trace] hold.
type TraceKind int

const (
	// Demand traces (header t,allocate,deallocate) give allocations and
	// deallocations per tick; the simulator models the pool.
	Demand TraceKind = iota + 1
	// Replay traces (header t,active,standby) give observed counts; the
	// simulator only runs the controller on them.
	Replay
)

// String returns the trace header for k.
func (k TraceKind) String() string {
	switch k {
	case Demand:
		return "t,allocate,deallocate"
	case Replay:
		return "t,active,standby"
	}
	return "unknown"
}

// MaxTraceTicks bounds how far a trace may reach, so that a typo in t
// cannot start a simulation of a billion ticks.
const MaxTraceTicks = 1_000_000

// Trace is a parsed demand or replay trace.
type Trace struct {
	Kind TraceKind
	Rows []TraceRow
}

// TraceRow is one data line. For a [Demand] trace A and B are allocations and
// deallocations; for a [Replay] trace they are active and ready standby
// counts.
type TraceRow struct {
	Line int // line number in the file, for error messages
	Tick int // tick index: t / tick
	A, B int
}

// ErrInvalidTrace marks every error returned by [ParseTrace].
var ErrInvalidTrace = errors.New("invalid trace")

type traceError struct{ err error }

func (e traceError) Error() string   { return e.err.Error() }
func (e traceError) Unwrap() []error { return []error{e.err, ErrInvalidTrace} }

func traceErrorf(line int, format string, args ...any) error {
	return traceError{fmt.Errorf("trace line %d: %s", line, fmt.Sprintf(format, args...))}
}

// ParseTrace reads a CSV trace. The header is t,allocate,deallocate or
// t,active,standby; lines starting with # are comments. t is a tick index
// (0, 1, 2, …) or an offset from the start written as a duration ("15m"),
// which must be a whole number of ticks. t must increase strictly; ticks
// without a row have no demand (demand traces) or repeat the previous counts
// (replay traces). Counts are non-negative integers.
func ParseTrace(r io.Reader, tick time.Duration) (Trace, error) {
	if tick <= 0 {
		return Trace{}, fmt.Errorf("tick %s must be positive", tick)
	}
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	cr.FieldsPerRecord = -1
	var tr Trace
	last := -1
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return Trace{}, traceErrorf(pe.Line, "%v", pe.Err)
			}
			return Trace{}, fmt.Errorf("read trace: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if tr.Kind == 0 {
			switch h := strings.ToLower(strings.Join(trimAll(rec), ",")); h {
			case Demand.String():
				tr.Kind = Demand
			case Replay.String():
				tr.Kind = Replay
			default:
				return Trace{}, traceErrorf(line, "header must be %q or %q, not %q", Demand, Replay, h)
			}
			continue
		}
		if len(rec) != 3 {
			return Trace{}, traceErrorf(line, "want 3 fields (%s), got %d", tr.Kind, len(rec))
		}
		rec = trimAll(rec)
		t, err := parseT(rec[0], tick)
		if err != nil {
			return Trace{}, traceErrorf(line, "t: %v", err)
		}
		if t <= last {
			return Trace{}, traceErrorf(line, "t %s is not after the previous row's (tick %d)", rec[0], last)
		}
		last = t
		cols := strings.Split(tr.Kind.String(), ",")
		row := TraceRow{Line: line, Tick: t}
		for i, dst := range []*int{&row.A, &row.B} {
			v, err := strconv.Atoi(rec[i+1])
			if err != nil || v < 0 {
				return Trace{}, traceErrorf(line, "%s %q must be a non-negative integer", cols[i+1], rec[i+1])
			}
			*dst = v
		}
		tr.Rows = append(tr.Rows, row)
	}
	if tr.Kind == 0 {
		return Trace{}, traceError{errors.New("trace is empty: want a header line")}
	}
	if len(tr.Rows) == 0 {
		return Trace{}, traceError{errors.New("trace has a header but no rows")}
	}
	return tr, nil
}

// parseT turns a t field into a tick index.
func parseT(s string, tick time.Duration) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > MaxTraceTicks {
			return 0, fmt.Errorf("tick %d is outside [0, %d]", n, MaxTraceTicks)
		}
		return n, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither a tick number nor a duration such as \"15m\"", s)
	}
	if d < 0 || d%tick != 0 {
		return 0, fmt.Errorf("%s is not a non-negative whole number of %s ticks", s, tick)
	}
	n := d / tick
	if n > MaxTraceTicks {
		return 0, fmt.Errorf("%s is more than %d ticks of %s", s, MaxTraceTicks, tick)
	}
	return int(n), nil
}

func trimAll(rec []string) []string {
	out := make([]string, len(rec))
	for i, f := range rec {
		out[i] = strings.TrimSpace(f)
	}
	return out
}
