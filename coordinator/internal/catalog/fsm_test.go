package catalog

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func mustApply(t *testing.T, c *Catalog, index uint64, cmd Command) error {
	t.Helper()
	b, err := Encode(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return c.Apply(index, b)
}

func populated(t *testing.T) *Catalog {
	t.Helper()
	c := New()
	steps := []Command{
		&UpsertHost{Name: "host-a", Region: "eu", Role: RoleActive, Address: "10.0.0.1", At: 1},
		&UpsertHost{Name: "host-b", Region: "eu", Role: RoleStandby, Address: "10.0.0.2", At: 2},
		&RegisterServices{Host: "host-a", Services: []ServiceDef{{Name: "login", Port: 8002, Primary: true, Tags: []string{"robust"}}}},
		&RegisterServices{Host: "host-b", Services: []ServiceDef{{Name: "login", Port: 8002}}},
	}
	for i, s := range steps {
		if err := mustApply(t, c, uint64(i+1), s); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	return c
}

func TestApplyCommands(t *testing.T) {
	t.Parallel()
	c := populated(t)
	if c.Index() != 4 {
		t.Fatalf("Index = %d, want 4", c.Index())
	}
	svc, ok := c.Service("login")
	if !ok || len(svc.Instances) != 2 || !svc.Instances[0].Primary || svc.Instances[0].Host != "host-a" {
		t.Fatalf("Service(login) = %+v, want primary host-a first", svc)
	}
	eps, _ := c.Healthy("login")
	if len(eps) != 2 || eps[0].Address != "10.0.0.1" {
		t.Fatalf("Healthy = %+v", eps)
	}

	// A failed host's instances are critical and drop out of Healthy.
	if err := mustApply(t, c, 5, &SetHostStatus{Name: "host-a", Status: HostFailed, At: 10}); err != nil {
		t.Fatal(err)
	}
	eps, _ = c.Healthy("login")
	if len(eps) != 1 || eps[0].Host != "host-b" {
		t.Fatalf("Healthy after failure = %+v, want host-b only", eps)
	}
	h, _ := c.Host("host-a")
	if h.Status != HostFailed || h.StatusSince != 10 || h.ModifyIndex != 5 {
		t.Fatalf("host-a = %+v", h)
	}

	// A critical check removes an instance too.
	if err := mustApply(t, c, 6, &SetHealth{Host: "host-b", Service: "login", Health: HealthCritical}); err != nil {
		t.Fatal(err)
	}
	if eps, ok := c.Healthy("login"); !ok || len(eps) != 0 {
		t.Fatalf("Healthy = %+v, %v; want none, service exists", eps, ok)
	}

	// Re-registering without a service removes the instance.
	if err := mustApply(t, c, 7, &RegisterServices{Host: "host-b"}); err != nil {
		t.Fatal(err)
	}
	if err := mustApply(t, c, 8, &DeleteHost{Name: "host-a"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Service("login"); ok {
		t.Fatal("login still present after its hosts went")
	}
}

func TestApplyRejectsWithoutChange(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cmd  Command
		want error
	}{
		{"empty host name", &UpsertHost{}, ErrInvalid},
		{"bad role", &UpsertHost{Name: "x", Role: "boss"}, ErrInvalid},
		{"status of unknown host", &SetHostStatus{Name: "nope", Status: HostAlive}, ErrNotFound},
		{"bad status", &SetHostStatus{Name: "host-a", Status: "zombie"}, ErrInvalid},
		{"services of unknown host", &RegisterServices{Host: "nope"}, ErrNotFound},
		{"duplicate service", &RegisterServices{Host: "host-a", Services: []ServiceDef{{Name: "a"}, {Name: "a"}}}, ErrInvalid},
		{"bad port", &RegisterServices{Host: "host-a", Services: []ServiceDef{{Name: "a", Port: 70000}}}, ErrInvalid},
		{"health of unknown instance", &SetHealth{Host: "host-a", Service: "nope", Health: HealthPassing}, ErrNotFound},
		{"delete unknown host", &DeleteHost{Name: "nope"}, ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := populated(t)
			before := c.Snapshot()
			err := mustApply(t, c, 99, tc.cmd)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Apply = %v, want %v", err, tc.want)
			}
			after := c.Snapshot()
			var b1, b2 bytes.Buffer
			before.WriteTo(&b1)
			after.WriteTo(&b2)
			// Only the applied index may move.
			b1s := bytes.Replace(b1.Bytes(), []byte(`"index":4`), []byte(`"index":99`), 1)
			if !bytes.Equal(b1s, b2.Bytes()) {
				t.Fatalf("state changed:\n%s\n%s", b1.Bytes(), b2.Bytes())
			}
		})
	}
}

func TestSnapshotRestore(t *testing.T) {
	t.Parallel()
	c := populated(t)
	var buf bytes.Buffer
	if _, err := c.Snapshot().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	r := New()
	if err := r.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Hosts(), r.Hosts()) || !reflect.DeepEqual(c.Services(), r.Services()) || r.Index() != c.Index() {
		t.Fatalf("restored catalogue differs")
	}
	// A corrupt snapshot leaves the state alone.
	if err := r.Restore(bytes.NewReader([]byte("{garbage"))); err == nil {
		t.Fatal("Restore(garbage) = nil")
	}
	if len(r.Hosts()) != 2 {
		t.Fatal("failed restore changed state")
	}
}

func TestUnknownCommands(t *testing.T) {
	t.Parallel()
	c := populated(t)
	// Unknown but ignorable: skipped, index advances.
	if err := c.Apply(10, []byte{byte(IgnoreUnknown | 0x7f), '{', '}'}); err != nil {
		t.Fatal(err)
	}
	if c.Index() != 10 {
		t.Fatalf("Index = %d, want 10", c.Index())
	}
	// Unknown and not ignorable: the node must stop rather than diverge.
	defer func() {
		if recover() == nil {
			t.Fatal("Apply of an unknown command did not panic")
		}
	}()
	c.Apply(11, []byte{0x7f, '{', '}'})
}

func TestRestoreStateThroughTheLog(t *testing.T) {
	t.Parallel()
	saved := populated(t)
	var buf bytes.Buffer
	saved.Snapshot().WriteTo(&buf)

	c := New()
	if err := mustApply(t, c, 1, &UpsertHost{Name: "other", Address: "10.9.9.9"}); err != nil {
		t.Fatal(err)
	}
	if err := mustApply(t, c, 2, &RestoreState{Snapshot: buf.Bytes()}); err != nil {
		t.Fatal(err)
	}
	if c.Index() != 2 {
		t.Fatalf("Index = %d, want the restoring entry's 2", c.Index())
	}
	if !reflect.DeepEqual(c.Hosts(), saved.Hosts()) || !reflect.DeepEqual(c.Services(), saved.Services()) {
		t.Fatal("restored state differs from the saved one")
	}
	if err := mustApply(t, c, 3, &RestoreState{Snapshot: []byte(`{"version":99}`)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad snapshot = %v, want ErrInvalid", err)
	}
	if len(c.Hosts()) != 2 {
		t.Fatal("a rejected restore changed the state")
	}
}
