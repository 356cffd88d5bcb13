package standby

import (
	"testing"
	"time"
)

func BenchmarkStep(b *testing.B) {
	p := playfabPolicy()
	var st State
	now := t0
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		now = now.Add(time.Minute)
		st, _ = Step(p, st, Observation{Active: 50 + i%20, Ready: i % 12, Booting: i % 3}, now)
	}
}

func BenchmarkSimulateBurst(b *testing.B) {
	cfg := DefaultSimConfig()
	tr := Trace{Kind: Demand}
	for i := range 1440 { // one day of one-minute ticks
		tr.Rows = append(tr.Rows, TraceRow{Tick: i, A: (i * 7) % 11, B: (i * 5) % 9})
	}
	p := playfabPolicy()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Simulate(p, tr, cfg); err != nil {
			b.Fatal(err)
		}
	}
}
