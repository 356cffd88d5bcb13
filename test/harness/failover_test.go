package harness

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/understudy/understudy/agent/hostagent"
	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/test/gridlogin"
)

// loginHost is an agent host running the stand-in login service on its
// own loopback address.
type loginHost struct {
	name string
	ip   string
	ctl  *gridlogin.Controller
	cfg  hostagent.Config
}

func newLoginHost(t *testing.T, c *Cluster, name, role, standby string) *loginHost {
	ip := NextIP()
	dir := t.TempDir()
	if err := gridlogin.AddAccount(dir, "Test", "User", "pw"); err != nil {
		t.Fatal(err)
	}
	ctl := gridlogin.NewController(gridlogin.Config{Grid: "Testgrid", Instance: name, DataDir: dir, Addr: net.JoinHostPort(ip, "8002")})
	chk := &hostagent.CheckConfig{HTTP: fmt.Sprintf("http://%s:8002/get_grid_info", ip), Interval: 250 * time.Millisecond,
		Timeout: 200 * time.Millisecond, FailuresBeforeCritical: 2, SuccessesBeforePassing: 1}
	cfg := c.AgentConfig(name, role, hostagent.Service{Name: "login", Grid: "testgrid", Port: 8002, Tags: []string{"login"}, Check: chk, Standby: standby})
	cfg.BindAddr = ip
	return &loginHost{name: name, ip: ip, ctl: ctl, cfg: cfg}
}

func (h *loginHost) start(c *Cluster) *Agent {
	return c.StartAgent(h.cfg, hostagent.WithController("login", h.ctl))
}

// waitPrimaryServing waits until DNS answers a alone and b is registered
// as its standby.
func waitPrimaryServing(t *testing.T, co *Coordinator, a, b *loginHost) {
	t.Helper()
	Eventually(t, 15*time.Second, "DNS to answer the primary with the standby registered", func() bool {
		got := dnsLogin(t, co.DNSAddr())
		svc, ok := co.Catalog().Service("login")
		return ok && len(svc.Instances) == 2 && len(got) >= 1 && got[0] == a.ip
	})
}

func dnsLogin(t *testing.T, addr string) []string {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion("login.service.understudy.", mdns.TypeA)
	r, _, err := (&mdns.Client{Timeout: time.Second}).Exchange(m, addr)
	if err != nil {
		return nil
	}
	var out []string
	for _, rr := range r.Answer {
		out = append(out, rr.(*mdns.A).A.String())
	}
	return out
}

// watchDoubleServing fails the test if both controllers ever run at once.
func watchDoubleServing(t *testing.T, a, b *gridlogin.Controller) (stop func()) {
	var bad atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if a.Running() && b.Running() {
				bad.Store(true)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return func() {
		cancel()
		<-done
		if bad.Load() {
			t.Error("both hosts served the service at the same time")
		}
	}
}

func TestFailoverOnHostDeath(t *testing.T) {
	ctx := t.Context()
	c := New(t, 3)
	c.Leader(10 * time.Second)
	a := newLoginHost(t, c, "host-a", "active", "cold")
	b := newLoginHost(t, c, "host-b", "standby", "cold")
	agentA := a.start(c)
	b.start(c)
	co := c.Coordinators[1]
	waitPrimaryServing(t, co, a, b)
	if b.ctl.Running() {
		t.Fatal("cold standby runs the service")
	}
	stop := watchDoubleServing(t, a.ctl, b.ctl)

	// The primary host dies (agent and service).
	agentA.Kill()
	a.ctl.Stop(ctx)
	Eventually(t, 20*time.Second, "DNS to answer the standby", func() bool {
		got := dnsLogin(t, co.DNSAddr())
		return len(got) == 1 && got[0] == b.ip
	})
	stop()
	svc, err := co.Client("").Service(ctx, "login")
	if err != nil || svc.Primary != "host-b" || svc.Epoch != 2 {
		t.Fatalf("service after failover = %+v, %v", svc, err)
	}
	ps, err := co.Client("").Promotions(ctx)
	if err != nil || len(ps) != 1 || ps[0].From != "host-a" || ps[0].To != "host-b" || ps[0].Planned {
		t.Fatalf("promotions = %+v, %v", ps, err)
	}

	// The old primary comes back: it is fenced, keeps the service stopped,
	// resynchronises and stands by.
	a.cfg.Ports.Gossip = port(t, agentA.GossipAddr())
	a.start(c)
	Eventually(t, 20*time.Second, "host-a to stand by unfenced", func() bool {
		s, err := co.Client("").Service(ctx, "login")
		if err != nil {
			return false
		}
		for _, i := range s.Instances {
			if i.Host == "host-a" {
				return !i.Fenced && !i.Primary
			}
		}
		return false
	})
	if a.ctl.Running() {
		t.Fatal("fenced former primary serves")
	}
}

func TestPlannedSwitchoverNeverServesTwice(t *testing.T) {
	ctx := t.Context()
	c := New(t, 3)
	c.Leader(10 * time.Second)
	a := newLoginHost(t, c, "host-a", "active", "cold")
	b := newLoginHost(t, c, "host-b", "standby", "cold")
	a.start(c)
	b.start(c)
	co := c.Coordinators[0]
	waitPrimaryServing(t, co, a, b)
	stop := watchDoubleServing(t, a.ctl, b.ctl)
	if _, err := co.Client("").Failover(ctx, "login", ""); !api.IsStatus(err, 401) {
		t.Fatalf("failover without token = %v, want 401", err)
	}
	p, err := co.Client(c.AdminToken).Failover(ctx, "login", "")
	if err != nil || p.To != "host-b" || !p.Planned {
		t.Fatalf("failover = %+v, %v", p, err)
	}
	Eventually(t, 15*time.Second, "DNS to answer the new primary", func() bool {
		got := dnsLogin(t, co.DNSAddr())
		return len(got) == 1 && got[0] == b.ip
	})
	stop()
	if a.ctl.Running() {
		t.Fatal("old primary still serves")
	}
	// A planned switchover does not fence: switching back works at once.
	if _, err := co.Client(c.AdminToken).Failover(ctx, "login", "host-a"); err != nil {
		t.Fatalf("switch back: %v", err)
	}
	Eventually(t, 15*time.Second, "DNS to answer host-a again", func() bool {
		got := dnsLogin(t, co.DNSAddr())
		return len(got) == 1 && got[0] == a.ip
	})
}

func TestFenceAndDrain(t *testing.T) {
	ctx := t.Context()
	c := New(t, 1)
	c.Leader(10 * time.Second)
	a := newLoginHost(t, c, "host-a", "active", "hot")
	b := newLoginHost(t, c, "host-b", "standby", "hot")
	a.start(c)
	b.start(c)
	co := c.Coordinators[0]
	admin := co.Client(c.AdminToken)
	Eventually(t, 15*time.Second, "both hot instances in DNS, primary first", func() bool {
		got := dnsLogin(t, co.DNSAddr())
		return len(got) == 2 && got[0] == a.ip
	})
	ps, err := admin.Drain(ctx, "host-a")
	if err != nil || len(ps) != 1 || ps[0].To != "host-b" {
		t.Fatalf("drain = %+v, %v", ps, err)
	}
	Eventually(t, 15*time.Second, "host-b first", func() bool {
		got := dnsLogin(t, co.DNSAddr())
		return len(got) == 2 && got[0] == b.ip
	})
	// Fencing the new primary moves the service back and takes the fenced
	// host out of DNS.
	if err := admin.Fence(ctx, "host-b", true); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 15*time.Second, "host-a alone in DNS", func() bool {
		got := dnsLogin(t, co.DNSAddr())
		return len(got) == 1 && got[0] == a.ip
	})
	if err := admin.Fence(ctx, "nope", true); !api.IsStatus(err, 404) {
		t.Fatalf("fence unknown host = %v, want 404", err)
	}
}
