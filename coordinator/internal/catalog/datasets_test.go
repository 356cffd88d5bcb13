package catalog

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestDatasetReportsAndFreshness(t *testing.T) {
	t.Parallel()
	c := populated(t)
	reports := []DatasetStatus{
		{Host: "host-a", Dataset: "db", Service: "login", Replica: "source", LastSnapshot: 100},
		{Host: "host-b", Dataset: "db", Service: "login", Replica: "mirror", LastMirror: 90},
		{Host: "host-b", Dataset: "cfg", Service: "login", Replica: "mirror", LastMirror: 70},
	}
	for i, r := range reports {
		if err := mustApply(t, c, uint64(10+i), &ReportDataset{Status: r}); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Freshness("login", "host-b"); got != 70 {
		t.Fatalf("Freshness(host-b) = %d, want the oldest dataset's 70", got)
	}
	if got := c.Freshness("login", "host-a"); got != 100 {
		t.Fatalf("Freshness(host-a) = %d, want 100", got)
	}
	if got := c.Freshness("login", "nobody"); got != 0 {
		t.Fatalf("Freshness(nobody) = %d, want 0", got)
	}
	ds := c.Datasets()
	if len(ds) != 3 || ds[0].Dataset != "cfg" {
		t.Fatalf("Datasets = %+v", ds)
	}
	for _, bad := range []DatasetStatus{
		{Host: "host-a", Replica: "source"},
		{Host: "host-a", Dataset: "x", Replica: "copy"},
		{Host: "ghost", Dataset: "x", Replica: "mirror"},
	} {
		if err := mustApply(t, c, 20, &ReportDataset{Status: bad}); err == nil {
			t.Errorf("report %+v accepted", bad)
		}
	}
	// Reports survive a snapshot round trip and go with their host.
	var buf bytes.Buffer
	c.Snapshot().WriteTo(&buf)
	r := New()
	if err := r.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Datasets(), c.Datasets()) {
		t.Fatal("datasets differ after restore")
	}
	if err := mustApply(t, c, 21, &DeleteHost{Name: "host-b"}); err != nil {
		t.Fatal(err)
	}
	if len(c.Datasets()) != 1 {
		t.Fatalf("reports of a deleted host remain: %+v", c.Datasets())
	}
}

func TestClusterConfigSetOnce(t *testing.T) {
	t.Parallel()
	c := New()
	if err := mustApply(t, c, 1, &SetClusterConfig{ChunkerPolynomial: 0x3DA3358B4DC173}); err != nil {
		t.Fatal(err)
	}
	if err := mustApply(t, c, 2, &SetClusterConfig{ChunkerPolynomial: 0x3DA3358B4DC173}); err != nil {
		t.Fatalf("same value again: %v", err)
	}
	if err := mustApply(t, c, 3, &SetClusterConfig{ChunkerPolynomial: 0x2}); !errors.Is(err, ErrConflict) {
		t.Fatalf("different value = %v, want ErrConflict", err)
	}
	if err := mustApply(t, c, 4, &SetClusterConfig{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("zero = %v, want ErrInvalid", err)
	}
	if c.Cluster().ChunkerPolynomial != 0x3DA3358B4DC173 {
		t.Fatal("polynomial changed")
	}
}
