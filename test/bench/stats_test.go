//go:build bench

package bench

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// summary describes a set of durations.
type summary struct {
	N                   int
	Min, Mean, P50, P99 time.Duration
	Max                 time.Duration
}

// summarize returns the summary of ds; percentiles use the nearest rank.
func summarize(ds []time.Duration) summary {
	if len(ds) == 0 {
		return summary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return summary{
		N:    len(s),
		Min:  s[0],
		Mean: sum / time.Duration(len(s)),
		P50:  rank(s, 50),
		P99:  rank(s, 99),
		Max:  s[len(s)-1],
	}
}

// rank returns the p-th percentile of sorted s by the nearest-rank method:
// the smallest value with at least p percent of the values at or below it.
func rank(s []time.Duration, p int) time.Duration {
	i := (p*len(s) + 99) / 100 // ceil(p/100 * n)
	return s[max(i, 1)-1]
}

// ms formats d in milliseconds with a precision that suits its size.
func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	switch {
	case f < 10:
		return fmt.Sprintf("%.2f", f)
	case f < 100:
		return fmt.Sprintf("%.1f", f)
	}
	return fmt.Sprintf("%.0f", f)
}

// mib formats a byte count in MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

// size formats a byte count with its unit, KiB below 1 MiB.
func size(b int64) string {
	if b < 1<<20 {
		return fmt.Sprintf("%.0f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

// table is a markdown table printed to stdout, where `go test -v` shows it
// in order with the test's progress lines.
type table struct {
	title  string
	header []string
	rows   [][]string
	notes  []string
}

// note adds a line printed under the table.
func (tb *table) note(format string, args ...any) {
	tb.notes = append(tb.notes, fmt.Sprintf(format, args...))
}

func (tb *table) add(cells ...string) { tb.rows = append(tb.rows, cells) }

func (tb *table) write(w io.Writer) {
	fmt.Fprintf(w, "\n%s\n\n", tb.title)
	fmt.Fprintf(w, "| %s |\n", strings.Join(tb.header, " | "))
	seps := make([]string, len(tb.header))
	for i := range seps {
		seps[i] = "---"
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(seps, " | "))
	for _, r := range tb.rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
	fmt.Fprintln(w)
	for _, n := range tb.notes {
		fmt.Fprintln(w, n)
	}
	if len(tb.notes) > 0 {
		fmt.Fprintln(w)
	}
}

func (tb *table) print() { tb.write(os.Stdout) }

// loadAverage returns the 1, 5 and 15 minute load averages, which say how
// much else the machine was running during a measurement.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func TestSummarize(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	var hundred []time.Duration
	for i := 100; i >= 1; i-- {
		hundred = append(hundred, ms(i))
	}
	tests := []struct {
		name string
		in   []time.Duration
		want summary
	}{
		{"empty", nil, summary{}},
		{"one", []time.Duration{ms(7)}, summary{N: 1, Min: ms(7), Mean: ms(7), P50: ms(7), P99: ms(7), Max: ms(7)}},
		{"four", []time.Duration{ms(4), ms(1), ms(3), ms(2)},
			summary{N: 4, Min: ms(1), Mean: ms(2) + ms(1)/2, P50: ms(2), P99: ms(4), Max: ms(4)}},
		{"hundred", hundred,
			summary{N: 100, Min: ms(1), Mean: ms(50) + ms(1)/2, P50: ms(50), P99: ms(99), Max: ms(100)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := summarize(tc.in); got != tc.want {
				t.Errorf("summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}
