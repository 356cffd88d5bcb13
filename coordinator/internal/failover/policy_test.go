package failover

import (
	"errors"
	"testing"
	"time"

	"github.com/understudy/understudy/coordinator/internal/catalog"
)

var t0 = time.UnixMilli(1_700_000_000_000)

func host(name string, st catalog.HostStatus) catalog.Host {
	return catalog.Host{Name: name, Status: st}
}

func inst(host string, h catalog.Health, running bool) catalog.Instance {
	return catalog.Instance{Service: "login", Host: host, Health: h, Running: running, HealthSince: t0.UnixMilli()}
}

func TestDecide(t *testing.T) {
	p := Policy{Grace: 3 * time.Second, MinInterval: 30 * time.Second}
	alive := catalog.HostAlive
	base := func() ([]catalog.Host, catalog.Service) {
		return []catalog.Host{host("a", alive), host("b", alive), host("c", alive)},
			catalog.Service{Name: "login", Primary: "a", Epoch: 4, Instances: []catalog.Instance{
				inst("a", catalog.HealthPassing, true), inst("b", catalog.HealthCritical, false), inst("c", catalog.HealthCritical, false)}}
	}
	cases := []struct {
		name    string
		mutate  func(hs []catalog.Host, s *catalog.Service)
		now     time.Duration
		expired bool
		fresh   map[string]time.Duration
		want    string // "" = no decision, else the chosen host
	}{
		{"healthy primary", func([]catalog.Host, *catalog.Service) {}, 0, true, nil, ""},
		{"host failed, lease expired", func(hs []catalog.Host, _ *catalog.Service) { hs[0].Status = catalog.HostFailed }, 0, true, nil, "b"},
		{"host failed, lease still held", func(hs []catalog.Host, _ *catalog.Service) { hs[0].Status = catalog.HostFailed }, 0, false, nil, ""},
		{"host fenced", func(hs []catalog.Host, _ *catalog.Service) { hs[0].Fenced = true }, 0, true, nil, "b"},
		{"check critical within grace", func(_ []catalog.Host, s *catalog.Service) { s.Instances[0].Health = catalog.HealthCritical }, 3 * time.Second, true, nil, ""},
		{"check critical past grace", func(_ []catalog.Host, s *catalog.Service) { s.Instances[0].Health = catalog.HealthCritical }, 3*time.Second + time.Millisecond, true, nil, "b"},
		{"check-driven failover too soon", func(_ []catalog.Host, s *catalog.Service) {
			s.Instances[0].Health = catalog.HealthCritical
			s.LastFailover = t0.UnixMilli()
		}, 10 * time.Second, true, nil, ""},
		{"host death ignores min interval", func(hs []catalog.Host, s *catalog.Service) {
			hs[0].Status = catalog.HostFailed
			s.LastFailover = t0.UnixMilli()
		}, time.Second, true, nil, "b"},
		{"freshest mirror wins", func(hs []catalog.Host, _ *catalog.Service) { hs[0].Status = catalog.HostFailed }, 0, true,
			map[string]time.Duration{"b": time.Second, "c": 2 * time.Second}, "c"},
		{"fenced standby skipped", func(hs []catalog.Host, s *catalog.Service) {
			hs[0].Status = catalog.HostFailed
			s.Instances[1].Fenced = true
		}, 0, true, nil, "c"},
		{"running standby with failing check skipped", func(hs []catalog.Host, s *catalog.Service) {
			hs[0].Status = catalog.HostFailed
			s.Instances[1].Running = true
		}, 0, true, nil, "c"},
		{"dead standby skipped", func(hs []catalog.Host, _ *catalog.Service) {
			hs[0].Status = catalog.HostFailed
			hs[1].Status = catalog.HostFailed
		}, 0, true, nil, "c"},
		{"no candidate", func(hs []catalog.Host, _ *catalog.Service) {
			hs[0].Status, hs[1].Status, hs[2].Status = catalog.HostFailed, catalog.HostLeft, catalog.HostFailed
		}, 0, true, nil, ""},
		{"no primary within grace", func(_ []catalog.Host, s *catalog.Service) { s.Primary, s.VacantSince = "", t0.UnixMilli() }, time.Second, false, nil, ""},
		{"no primary past grace", func(_ []catalog.Host, s *catalog.Service) { s.Primary, s.VacantSince = "", t0.UnixMilli() }, 4 * time.Second, false, nil, "a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs, s := base()
			tc.mutate(hs, &s)
			in := Input{Now: t0.Add(tc.now), Services: []catalog.Service{s}, Hosts: hs,
				LeaseExpired: func(string) bool { return tc.expired }}
			if tc.fresh != nil {
				in.Freshness = func(_, h string) time.Time { return t0.Add(tc.fresh[h]) }
			}
			ds := Decide(p, in)
			switch {
			case tc.want == "" && len(ds) != 0:
				t.Fatalf("Decide = %+v, want nothing", ds)
			case tc.want != "" && (len(ds) != 1 || ds[0].To != tc.want || ds[0].Epoch != 4 || ds[0].Reason == ""):
				t.Fatalf("Decide = %+v, want promotion to %s at epoch 4", ds, tc.want)
			}
		})
	}
}

func TestDecideSpreadsPrimaries(t *testing.T) {
	hs := []catalog.Host{host("a", catalog.HostFailed), host("b", catalog.HostAlive), host("c", catalog.HostAlive)}
	var svcs []catalog.Service
	for _, name := range []string{"s1", "s2"} {
		svcs = append(svcs, catalog.Service{Name: name, Primary: "a", Epoch: 1, Instances: []catalog.Instance{
			{Service: name, Host: "a"}, {Service: name, Host: "b"}, {Service: name, Host: "c"}}})
	}
	ds := Decide(DefaultPolicy(), Input{Now: t0, Services: svcs, Hosts: hs, LeaseExpired: func(string) bool { return true }})
	if len(ds) != 2 || ds[0].To == ds[1].To {
		t.Fatalf("Decide = %+v, want the two services on different standbys", ds)
	}
}

func TestLeases(t *testing.T) {
	p := DefaultPolicy()
	l := NewLeases(2*time.Second, t0)
	// A new leader treats everything as leased for one TTL.
	if l.Expired("login", t0.Add(time.Second)) {
		t.Fatal("expired before the floor")
	}
	if !l.Expired("login", t0.Add(2*time.Second)) {
		t.Fatal("unleased service not expired after the floor")
	}
	svc := catalog.Service{Name: "login", Primary: "a", Epoch: 3, Instances: []catalog.Instance{inst("a", catalog.HealthPassing, true), inst("b", catalog.HealthPassing, false)}}
	a, b := host("a", catalog.HostAlive), host("b", catalog.HostAlive)
	if ttl, err := l.Grant(p, t0.Add(3*time.Second), svc, a, "a", 3); err != nil || ttl != 2*time.Second {
		t.Fatalf("Grant = %v, %v", ttl, err)
	}
	if l.Expired("login", t0.Add(4*time.Second)) {
		t.Fatal("fresh lease expired")
	}
	if !l.Expired("login", t0.Add(5*time.Second)) {
		t.Fatal("lease did not expire after its TTL")
	}
	// Refusals: wrong epoch, not the primary, fenced, dead.
	for name, tc := range map[string]struct {
		h     catalog.Host
		host  string
		epoch uint64
	}{
		"stale epoch": {a, "a", 2},
		"not primary": {b, "b", 3},
		"fenced":      {catalog.Host{Name: "a", Status: catalog.HostAlive, Fenced: true}, "a", 3},
		"dead":        {host("a", catalog.HostFailed), "a", 3},
	} {
		if _, err := l.Grant(p, t0.Add(6*time.Second), svc, tc.h, tc.host, tc.epoch); !errors.Is(err, ErrNotHolder) {
			t.Errorf("%s: Grant = %v, want ErrNotHolder", name, err)
		}
	}
	// After a planned switchover the new primary waits for the old lease.
	l.Grant(p, t0.Add(6*time.Second), svc, a, "a", 3)
	svc.Primary, svc.Epoch = "b", 4
	if _, err := l.Grant(p, t0.Add(7*time.Second), svc, b, "b", 4); !errors.Is(err, ErrNotHolder) {
		t.Fatalf("Grant while the old primary holds the lease = %v", err)
	}
	// The old primary keeps its old-epoch lease while it hands over.
	if ttl, err := l.Grant(p, t0.Add(7500*time.Millisecond), svc, a, "a", 3); err != nil || ttl != 2*time.Second {
		t.Fatalf("handover renewal = %v, %v", ttl, err)
	}
	if _, err := l.Grant(p, t0.Add(8*time.Second), svc, b, "b", 4); !errors.Is(err, ErrNotHolder) {
		t.Fatalf("Grant during the handover = %v", err)
	}
	l.Release("login", "a")
	if _, err := l.Grant(p, t0.Add(8*time.Second), svc, b, "b", 4); err != nil {
		t.Fatalf("Grant after release = %v", err)
	}
	// Once released, the old epoch's lease cannot be taken back.
	if _, err := l.Grant(p, t0.Add(8*time.Second), svc, a, "a", 3); !errors.Is(err, ErrNotHolder) {
		t.Fatalf("old primary renewed after release = %v", err)
	}
}
