package hostagent

import (
	"testing"
	"time"

	"github.com/understudy/understudy/pkg/api"
)

func TestCopyObjective(t *testing.T) {
	t0 := time.UnixMilli(1_800_000_000_000)
	hour := time.Hour
	cases := []struct {
		name     string
		streamed bool
		st       api.DatasetStatus
		now      time.Duration // after t0 (the agent started at t0)
		missed   bool
	}{
		{"no snapshot yet", false, api.DatasetStatus{}, 5 * hour, false},
		{"mirrored recently", false, api.DatasetStatus{LastSnapshot: t0.UnixMilli(), LastMirror: t0.Add(90 * time.Minute).UnixMilli()}, 3 * hour, false},
		{"mirror two periods old", false, api.DatasetStatus{LastSnapshot: t0.UnixMilli(), LastMirror: t0.UnixMilli()}, 2*hour + time.Second, true},
		{"never mirrored, agent young", false, api.DatasetStatus{LastSnapshot: t0.UnixMilli()}, hour, false},
		{"never mirrored, agent old", false, api.DatasetStatus{LastSnapshot: t0.UnixMilli()}, 2*hour + time.Second, true},
		{"stream not connected yet", true, api.DatasetStatus{}, hour, false},
		{"stream within RPO", true, api.DatasetStatus{LastMirror: t0.UnixMilli(), LagMillis: 300}, time.Second, false},
		{"stream behind", true, api.DatasetStatus{LastMirror: t0.UnixMilli(), LagMillis: 6000}, time.Second, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			al, missed := copyObjective("world", tc.streamed, tc.st, t0, t0.Add(tc.now), hour)
			if missed != tc.missed {
				t.Fatalf("missed = %v (%+v), want %v", missed, al, tc.missed)
			}
			if missed && al.Dataset != "world" {
				t.Fatalf("alert %+v does not name the dataset", al)
			}
		})
	}
}
