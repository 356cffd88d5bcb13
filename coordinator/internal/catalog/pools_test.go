package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/understudy/understudy/coordinator/internal/standby"
)

func poolPolicy() standby.Policy {
	return standby.Policy{StandbyFloor: 2, MaxServers: 10, RampDown: standby.Duration(time.Minute),
		DynamicStandby: standby.DynamicStandby{Enabled: true, Thresholds: []standby.Threshold{{Percent: 50, Multiplier: 2}}}}
}

// pooled returns a catalogue with a pool in "eu": one active host, standby
// hosts sb-1..sb-4 (sb-3 carries login, sb-4 is fenced) and a standby in
// another region.
func pooled(t *testing.T) (*Catalog, uint64) {
	t.Helper()
	c := New()
	steps := []Command{
		&SetPoolPolicy{Region: "eu", Policy: poolPolicy(), At: 1},
		&UpsertHost{Name: "act-1", Region: "eu", Role: RoleActive, Address: "10.0.0.1", At: 1},
		&UpsertHost{Name: "sb-1", Region: "eu", Role: RoleStandby, Address: "10.0.1.1", At: 1},
		&UpsertHost{Name: "sb-2", Region: "eu", Role: RoleStandby, Address: "10.0.1.2", At: 1},
		&RegisterServices{Host: "sb-3", Services: []ServiceDef{{Name: "login", Port: 8002}},
			Upsert: &UpsertHost{Name: "sb-3", Region: "eu", Role: RoleStandby, Address: "10.0.1.3", At: 1}},
		&UpsertHost{Name: "sb-4", Region: "eu", Role: RoleStandby, Address: "10.0.1.4", At: 1},
		&FenceHost{Name: "sb-4", Fenced: true, At: 1},
		&UpsertHost{Name: "us-1", Region: "us", Role: RoleStandby, Address: "10.0.2.1", At: 1},
	}
	for i, s := range steps {
		if err := mustApply(t, c, uint64(i+1), s); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	return c, uint64(len(steps))
}

func snapshotBytes(t *testing.T, c *Catalog) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := c.Snapshot().WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestPoolCommandsReject(t *testing.T) {
	t.Parallel()
	bad := poolPolicy()
	bad.StandbyFloor = 20
	cases := []struct {
		name string
		cmd  Command
		want error
	}{
		{"policy without region", &SetPoolPolicy{Policy: poolPolicy()}, ErrInvalid},
		{"invalid policy", &SetPoolPolicy{Region: "eu", Policy: bad}, ErrInvalid},
		{"step of unknown pool", &PoolStep{Region: "xx"}, ErrNotFound},
		{"step at a stale generation", &PoolStep{Region: "eu", Generation: 0, Provision: 1}, ErrConflict},
		{"step with negative count", &PoolStep{Region: "eu", Generation: 1, Provision: -1}, ErrInvalid},
		{"step closing an unknown request", &PoolStep{Region: "eu", Generation: 1, Close: []string{"nope"}}, ErrConflict},
		{"release of an active host", &PoolStep{Region: "eu", Generation: 1, Release: []string{"act-1"}}, ErrConflict},
		{"release of another region's host", &PoolStep{Region: "eu", Generation: 1, Release: []string{"us-1"}}, ErrConflict},
		{"release twice", &PoolStep{Region: "eu", Generation: 1, Release: []string{"sb-1", "sb-1"}}, ErrConflict},
		{"answer to an unknown request", &PoolAnswer{Region: "eu", ID: "eu/provision/1.9"}, ErrNotFound},
		{"allocation without id", &Allocate{Region: "eu"}, ErrInvalid},
		{"allocation from unknown pool", &Allocate{Region: "us", ID: "a"}, ErrNotFound},
		{"allocation for unknown service", &Allocate{Region: "eu", Service: "nope", ID: "a"}, ErrNotFound},
		{"deallocation of a host not allocated", &Deallocate{Region: "eu", Host: "sb-1"}, ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, last := pooled(t)
			before := snapshotBytes(t, c)
			err := mustApply(t, c, 99, tc.cmd)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Apply = %v, want %v", err, tc.want)
			}
			after := snapshotBytes(t, c)
			// Only the applied index may move.
			before = bytes.Replace(before, fmt.Appendf(nil, `"index":%d`, last), []byte(`"index":99`), 1)
			if !bytes.Equal(before, after) {
				t.Fatalf("state changed:\n%s\n%s", before, after)
			}
		})
	}
}

func TestPoolPolicyError(t *testing.T) {
	t.Parallel()
	c, _ := pooled(t)
	bad := poolPolicy()
	bad.DynamicStandby.Thresholds[0].Percent = 0
	err := mustApply(t, c, 99, &SetPoolPolicy{Region: "eu", Policy: bad})
	if !errors.Is(err, standby.ErrInvalidPolicy) || !bytes.Contains([]byte(err.Error()), []byte("dynamic_standby.thresholds[0].percent")) {
		t.Fatalf("Apply = %v, want an invalid policy error naming the field", err)
	}
}

func TestAllocateDeterministic(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		service string
		want    []string // hosts handed out in turn, then ErrNoStandby
	}{
		// sb-4 is fenced, us-1 is in another region, act-1 is active.
		{"any host, lowest name first", "", []string{"sb-1", "sb-2", "sb-3"}},
		{"only hosts carrying the service", "login", []string{"sb-3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, idx := pooled(t)
			for i, want := range tc.want {
				idx++
				id := fmt.Sprintf("a%d", i)
				if err := mustApply(t, c, idx, &Allocate{Region: "eu", Service: tc.service, ID: id, At: 5}); err != nil {
					t.Fatalf("allocation %d: %v", i, err)
				}
				a, ok := c.Allocation("eu", id)
				if !ok || a.Host != want || a.Index != idx || a.Service != tc.service {
					t.Fatalf("allocation %d = %+v, %v; want host %s at index %d", i, a, ok, want, idx)
				}
			}
			idx++
			if err := mustApply(t, c, idx, &Allocate{Region: "eu", Service: tc.service, ID: "last"}); !errors.Is(err, ErrNoStandby) {
				t.Fatalf("allocation from an empty pool = %v, want ErrNoStandby", err)
			}
			// Repeating an id hands out nothing new.
			idx++
			if err := mustApply(t, c, idx, &Allocate{Region: "eu", ID: "a0"}); err != nil {
				t.Fatalf("repeated allocation: %v", err)
			}
			if p, _ := c.Pool("eu"); len(p.Allocations) != len(tc.want) {
				t.Fatalf("allocations = %+v, want %d", p.Allocations, len(tc.want))
			}
			// Deallocation makes the host ready again.
			idx++
			if err := mustApply(t, c, idx, &Deallocate{Region: "eu", Host: tc.want[0]}); err != nil {
				t.Fatal(err)
			}
			idx++
			if err := mustApply(t, c, idx, &Allocate{Region: "eu", Service: tc.service, ID: "again"}); err != nil {
				t.Fatal(err)
			}
			if a, _ := c.Allocation("eu", "again"); a.Host != tc.want[0] {
				t.Fatalf("after deallocation got %s, want %s", a.Host, tc.want[0])
			}
		})
	}
}

func TestAllocatePrefersFreshMirrors(t *testing.T) {
	t.Parallel()
	c, idx := pooled(t)
	steps := []Command{
		&RegisterServices{Host: "sb-1", Services: []ServiceDef{{Name: "login", Port: 8002}}},
		&ReportDataset{Status: DatasetStatus{Host: "sb-1", Service: "login", Dataset: "db", Replica: "mirror", LastMirror: 100}},
		&ReportDataset{Status: DatasetStatus{Host: "sb-3", Service: "login", Dataset: "db", Replica: "mirror", LastMirror: 200}},
		&Allocate{Region: "eu", Service: "login", ID: "x"},
	}
	for i, s := range steps {
		if err := mustApply(t, c, idx+uint64(i)+1, s); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if a, _ := c.Allocation("eu", "x"); a.Host != "sb-3" {
		t.Fatalf("allocated %s, want sb-3 (freshest mirror)", a.Host)
	}
}

func TestPoolViewAndRequests(t *testing.T) {
	t.Parallel()
	c, idx := pooled(t)
	apply := func(cmd Command) error {
		t.Helper()
		idx++
		return mustApply(t, c, idx, cmd)
	}
	view := func() PoolView {
		t.Helper()
		v, ok := c.PoolView("eu")
		if !ok {
			t.Fatal("no pool eu")
		}
		return v
	}
	v := view()
	if want := (standby.Observation{Active: 1, Ready: 3}); v.Observation != want ||
		!reflect.DeepEqual(v.ReadyHosts, []string{"sb-1", "sb-2", "sb-3"}) {
		t.Fatalf("view = %+v %v, want %+v", v.Observation, v.ReadyHosts, want)
	}
	if err := apply(&Allocate{Region: "eu", ID: "a"}); err != nil {
		t.Fatal(err)
	}
	st := standby.State{Raised: true, Multiplier: 2, LastTrigger: time.UnixMilli(10).UTC()}
	gen := view().Generation
	if err := apply(&PoolStep{Region: "eu", Generation: gen, State: st, Target: 4, Provision: 2, Release: []string{"sb-3"}, At: 10}); err != nil {
		t.Fatal(err)
	}
	v = view()
	if len(v.Requests) != 2 || v.Requests[0].ID != "eu/provision/1.1" || v.Requests[1].ID != "eu/release/1.2" ||
		v.State != st || v.Target != 4 || v.Generation != gen+1 {
		t.Fatalf("pool after step = %+v", v.Pool)
	}
	// sb-1 is allocated and sb-3 is being released: one ready, two booting.
	if want := (standby.Observation{Active: 2, Ready: 1, Booting: 2}); v.Observation != want {
		t.Fatalf("observation = %+v, want %+v", v.Observation, want)
	}
	// The same step again is stale.
	if err := apply(&PoolStep{Region: "eu", Generation: gen, Provision: 2}); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale step = %v, want ErrConflict", err)
	}
	// The hook names one host: one booting until it joins.
	if err := apply(&PoolAnswer{Region: "eu", ID: "eu/provision/1.1", Hosts: []string{"new-1"}, At: 11}); err != nil {
		t.Fatal(err)
	}
	if err := apply(&PoolAnswer{Region: "eu", ID: "eu/provision/1.1", Hosts: []string{"other"}, At: 12}); err != nil {
		t.Fatalf("repeated answer: %v", err)
	}
	if v = view(); v.Observation.Booting != 1 || v.Progress[0].Done || v.Requests[0].Hosts[0] != "new-1" {
		t.Fatalf("after answer: %+v %+v", v.Observation, v.Progress)
	}
	if err := apply(&UpsertHost{Name: "new-1", Region: "eu", Role: RoleStandby, At: 13}); err != nil {
		t.Fatal(err)
	}
	if v = view(); v.Observation.Booting != 0 || !v.Progress[0].Done || v.Observation.Ready != 2 {
		t.Fatalf("after join: %+v %+v", v.Observation, v.Progress)
	}
	// The release completes once answered and its host is gone.
	if err := apply(&PoolAnswer{Region: "eu", ID: "eu/release/1.2", At: 14}); err != nil {
		t.Fatal(err)
	}
	if view().Progress[1].Done {
		t.Fatal("release done while its host is alive")
	}
	if err := apply(&SetHostStatus{Name: "sb-3", Status: HostLeft, At: 15}); err != nil {
		t.Fatal(err)
	}
	if v = view(); !v.Progress[1].Done {
		t.Fatalf("release not done after its host left: %+v", v.Progress)
	}
	if err := apply(&PoolStep{Region: "eu", Generation: v.Generation, State: st, Target: 4,
		Close: []string{"eu/provision/1.1", "eu/release/1.2"}, At: 16}); err != nil {
		t.Fatal(err)
	}
	if v = view(); len(v.Requests) != 0 {
		t.Fatalf("requests after close: %+v", v.Requests)
	}
}

func TestPoolRequestWithoutNamedHosts(t *testing.T) {
	t.Parallel()
	c, idx := pooled(t)
	steps := []Command{
		&PoolStep{Region: "eu", Generation: 1, Provision: 2, At: 100},
		&PoolAnswer{Region: "eu", ID: "eu/provision/1.1", At: 101},
		// Came alive before the request: not credited.
		&SetHostStatus{Name: "sb-2", Status: HostFailed, At: 50},
		&SetHostStatus{Name: "sb-2", Status: HostAlive, At: 60},
		// Joined after it: credited.
		&UpsertHost{Name: "new-a", Region: "eu", Role: RoleStandby, At: 120},
	}
	for i, s := range steps {
		if err := mustApply(t, c, idx+uint64(i)+1, s); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	v, _ := c.PoolView("eu")
	if v.Observation.Booting != 1 || v.Progress[0].Done {
		t.Fatalf("booting = %d (%+v), want 1", v.Observation.Booting, v.Progress)
	}
}

func TestPoolRefusedRequestIsDropped(t *testing.T) {
	t.Parallel()
	c, idx := pooled(t)
	for i, s := range []Command{
		&PoolStep{Region: "eu", Generation: 1, Release: []string{"sb-2"}, At: 100},
		&PoolAnswer{Region: "eu", ID: "eu/release/1.1", Refused: "no", At: 101},
	} {
		if err := mustApply(t, c, idx+uint64(i)+1, s); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	v, _ := c.PoolView("eu")
	if len(v.Requests) != 0 || v.Observation.Ready != 3 {
		t.Fatalf("after refusal: %+v %+v", v.Requests, v.Observation)
	}
}

func TestPoolSnapshotRestore(t *testing.T) {
	t.Parallel()
	c, idx := pooled(t)
	for i, s := range []Command{
		&Allocate{Region: "eu", ID: "a", At: 3},
		&PoolStep{Region: "eu", Generation: 1, Provision: 1, State: standby.State{Raised: true, Multiplier: 2}, At: 4},
	} {
		if err := mustApply(t, c, idx+uint64(i)+1, s); err != nil {
			t.Fatal(err)
		}
	}
	r := New()
	if err := r.Restore(bytes.NewReader(snapshotBytes(t, c))); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Pools(), r.Pools()) {
		t.Fatalf("restored pools differ:\n%+v\n%+v", c.Pools(), r.Pools())
	}
	if a, ok := r.Allocation("eu", "a"); !ok || a.Host != "sb-1" {
		t.Fatalf("restored allocation = %+v, %v", a, ok)
	}
	// The restored catalogue goes on exactly like the original.
	next := &Allocate{Region: "eu", ID: "b"}
	if err := mustApply(t, c, 50, next); err != nil {
		t.Fatal(err)
	}
	if err := mustApply(t, r, 50, next); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snapshotBytes(t, c), snapshotBytes(t, r)) {
		t.Fatal("replicas diverged after restore")
	}
}
