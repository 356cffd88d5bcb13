package catalog

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPromoteFencesAndRaisesEpoch(t *testing.T) {
	t.Parallel()
	c := populated(t) // host-a primary of login at epoch 1, host-b standby
	svc, _ := c.Service("login")
	if svc.Primary != "host-a" || svc.Epoch != 1 {
		t.Fatalf("initial service = %+v", svc)
	}
	// A decision on a stale epoch is refused.
	if err := mustApply(t, c, 10, &Promote{Service: "login", To: "host-b", Epoch: 7, Reason: "x", At: 5}); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale promote = %v, want ErrConflict", err)
	}
	if err := mustApply(t, c, 11, &Promote{Service: "login", To: "host-b", Epoch: 1, Reason: "host-a dead", At: 5}); err != nil {
		t.Fatal(err)
	}
	svc, _ = c.Service("login")
	if svc.Primary != "host-b" || svc.Epoch != 2 || svc.LastFailover != 5 || svc.Instances[0].Host != "host-b" {
		t.Fatalf("after promote = %+v", svc)
	}
	// The former primary is fenced and out of DNS; it cannot be promoted
	// back until it has resynchronised.
	eps, _ := c.Healthy("login")
	if len(eps) != 1 || eps[0].Host != "host-b" {
		t.Fatalf("Healthy = %+v", eps)
	}
	if err := mustApply(t, c, 12, &Promote{Service: "login", To: "host-a", Epoch: 2, At: 6}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("promote fenced = %v, want ErrInvalid", err)
	}
	// A fenced former primary re-registering does not get its role back.
	if err := mustApply(t, c, 13, &RegisterServices{Host: "host-a", Services: []ServiceDef{{Name: "login", Port: 8002, Primary: true}}}); err != nil {
		t.Fatal(err)
	}
	if svc, _ := c.Service("login"); svc.Primary != "host-b" {
		t.Fatalf("primary after re-registration = %s", svc.Primary)
	}
	if err := mustApply(t, c, 14, &ClearFence{Host: "host-a", Service: "login"}); err != nil {
		t.Fatal(err)
	}
	// A planned switchover back does not fence the one it leaves.
	if err := mustApply(t, c, 15, &Promote{Service: "login", To: "host-a", Epoch: 2, Planned: true, Reason: "switchover", At: 7}); err != nil {
		t.Fatal(err)
	}
	eps, _ = c.Healthy("login")
	if len(eps) != 2 || eps[0].Host != "host-a" {
		t.Fatalf("Healthy after switchover = %+v", eps)
	}
	ps := c.Promotions()
	if len(ps) != 2 || ps[0].From != "host-a" || ps[0].To != "host-b" || ps[1].Epoch != 3 || !ps[1].Planned {
		t.Fatalf("promotions = %+v", ps)
	}
	// Instances seen from a host carry the epoch the agent must serve at.
	hi := c.HostInstances("host-a")
	if len(hi) != 1 || !hi[0].Primary || hi[0].Epoch != 3 {
		t.Fatalf("HostInstances = %+v", hi)
	}
}

func TestFencedHostAndRunning(t *testing.T) {
	t.Parallel()
	c := populated(t)
	if err := mustApply(t, c, 10, &FenceHost{Name: "host-b", Fenced: true}); err != nil {
		t.Fatal(err)
	}
	if err := mustApply(t, c, 11, &Promote{Service: "login", To: "host-b", Epoch: 1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("promote to fenced host = %v", err)
	}
	if eps, _ := c.Healthy("login"); len(eps) != 1 {
		t.Fatalf("fenced host still in Healthy: %+v", eps)
	}
	if err := mustApply(t, c, 12, &SetRunning{Host: "host-a", Service: "login", Running: true}); err != nil {
		t.Fatal(err)
	}
	if svc, _ := c.Service("login"); !svc.Instances[0].Running {
		t.Fatal("running not recorded")
	}
	// A service with a check starts critical.
	if err := mustApply(t, c, 13, &RegisterServices{Host: "host-a", Services: []ServiceDef{
		{Name: "login", Port: 8002, Primary: true}, {Name: "db", Port: 3306, HasCheck: true}}}); err != nil {
		t.Fatal(err)
	}
	if svc, _ := c.Service("db"); svc.Instances[0].Health != HealthCritical || svc.Primary != "" {
		t.Fatalf("db = %+v", svc)
	}
}

func TestWaitWakesOnApply(t *testing.T) {
	t.Parallel()
	c := populated(t)
	idx := c.Index()
	got := make(chan uint64, 1)
	go func() { got <- c.Wait(context.Background(), idx) }()
	if err := mustApply(t, c, idx+1, &SetHealth{Host: "host-a", Service: "login", Health: HealthWarning}); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-got:
		if n != idx+1 {
			t.Fatalf("Wait = %d, want %d", n, idx+1)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not wake")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n := c.Wait(ctx, idx+5); n != idx+1 {
		t.Fatalf("cancelled Wait = %d", n)
	}
}
