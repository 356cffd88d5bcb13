package harness

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/understudy/understudy/agent/hostagent"
	"github.com/understudy/understudy/pkg/api"
)

func hostNames(hs []api.Host) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Name+"="+h.Status)
	}
	return out
}

func TestCoordinatorCluster(t *testing.T) {
	ctx := t.Context()
	c := New(t, 3)
	li := c.Leader(10 * time.Second)
	follower := c.Coordinators[(li+1)%3]
	other := c.Coordinators[(li+2)%3]

	// Every coordinator sees the same Raft configuration.
	Eventually(t, 10*time.Second, "three voters", func() bool {
		p, err := other.Client("").Peers(ctx)
		return err == nil && len(p) == 3
	})

	// A write through a follower is forwarded to the leader.
	reg := api.Registration{Name: "host-x", Region: "eu", Role: "active", Address: "127.0.0.9",
		Services: []api.ServiceDef{{Name: "login", Port: 8002, Primary: true}}}
	if err := follower.Client(c.AgentToken).Register(ctx, reg); err != nil {
		t.Fatalf("register through follower: %v", err)
	}
	h, err := other.Client("").Host(ctx, "host-x", api.Consistent())
	if err != nil || h.Address != "127.0.0.9" {
		t.Fatalf("consistent read from the other follower = %+v, %v", h, err)
	}

	// Writes need the right token.
	if err := follower.Client("").Register(ctx, reg); !api.IsStatus(err, http.StatusUnauthorized) {
		t.Fatalf("register without token = %v, want 401", err)
	}
	if err := follower.Client("wrong").Register(ctx, reg); !api.IsStatus(err, http.StatusForbidden) {
		t.Fatalf("register with a wrong token = %v, want 403", err)
	}
	if err := follower.Client(c.AgentToken).DeleteHost(ctx, "host-x"); !api.IsStatus(err, http.StatusForbidden) {
		t.Fatalf("admin write with the agent token = %v, want 403", err)
	}

	// Kill the leader hard: a new one is elected, reads and writes go on.
	c.Coordinators[li].Kill()
	nl := c.Leader(10 * time.Second)
	if nl == li {
		t.Fatal("killed leader still leads")
	}
	reg2 := reg
	reg2.Name, reg2.Address = "host-y", "127.0.0.10"
	Eventually(t, 10*time.Second, "a write after leader loss", func() bool {
		return follower.Client(c.AgentToken).Register(ctx, reg2) == nil
	})

	// The old leader restarts from its data directory with its state and
	// catches up with what happened while it was down.
	re := c.Restart(li)
	Eventually(t, 15*time.Second, "restarted node to catch up", func() bool {
		_, okX := re.Catalog().Host("host-x")
		_, okY := re.Catalog().Host("host-y")
		return okX && okY
	})

	// peers remove drops a member.
	if err := follower.Client(c.AdminToken).RemovePeer(ctx, "no-such-node"); !api.IsStatus(err, http.StatusNotFound) {
		t.Fatalf("remove unknown peer = %v, want 404", err)
	}
}

func TestAgentsJoinLeaveAndFail(t *testing.T) {
	ctx := t.Context()
	c := New(t, 3)
	c.Leader(10 * time.Second)
	login := hostagent.Service{Name: "login", Grid: "osgrid", Port: 8002}
	a := c.StartAgent(c.AgentConfig("host-a", "active", login))
	b := c.StartAgent(c.AgentConfig("host-b", "standby", login))
	cl := c.Coordinators[0].Client("")

	Eventually(t, 10*time.Second, "both hosts alive with their services", func() bool {
		hs, err := cl.Hosts(ctx)
		svc, err2 := cl.Service(ctx, "login")
		return err == nil && err2 == nil && slices.Equal(hostNames(hs), []string{"host-a=alive", "host-b=alive"}) &&
			len(svc.Instances) == 2 && svc.Instances[0].Host == "host-a" && svc.Instances[0].Primary
	})

	// A graceful stop shows as left; a crash as failed.
	a.Stop()
	b.Kill()
	Eventually(t, 15*time.Second, "host-a left and host-b failed", func() bool {
		hs, err := cl.Hosts(ctx)
		return err == nil && slices.Equal(hostNames(hs), []string{"host-a=left", "host-b=failed"})
	})
	ms, err := cl.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 3 {
		t.Fatalf("members = %+v", ms)
	}
}

func TestWrongGossipKeyIsRejected(t *testing.T) {
	c := New(t, 1)
	c.Leader(10 * time.Second)
	cfg := c.AgentConfig("intruder", "active")
	other := New(t, 1) // a second cluster with its own key
	cfg.Encrypt = other.Key
	c.StartAgent(cfg)
	// The intruder retries its join; give it a fair chance, then check it
	// never made it in.
	good := c.StartAgent(c.AgentConfig("friend", "active"))
	Eventually(t, 10*time.Second, "the friendly agent to register", func() bool {
		_, ok := c.Coordinators[0].Catalog().Host(good.Name())
		return ok
	})
	ms, err := c.Coordinators[0].Client("").Members(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Name == "intruder" {
			t.Fatalf("intruder with the wrong key joined: %+v", m)
		}
	}
	if _, ok := c.Coordinators[0].Catalog().Host("intruder"); ok {
		t.Fatal("intruder registered")
	}
}

func TestDNSSameAnswersEverywhere(t *testing.T) {
	c := New(t, 3)
	c.Leader(10 * time.Second)
	c.StartAgent(c.AgentConfig("host-a", "active", hostagent.Service{Name: "login", Port: 8002}))
	c.StartAgent(c.AgentConfig("host-b", "standby", hostagent.Service{Name: "login", Port: 8002}))
	for _, co := range c.Coordinators {
		Eventually(t, 10*time.Second, "login instances on "+co.Name(), func() bool {
			eps, _ := co.Catalog().Healthy("login")
			return len(eps) == 2
		})
	}
	queries := []struct {
		name  string
		qtype uint16
	}{
		{"login.service.understudy.", mdns.TypeA},
		{"login.service.understudy.", mdns.TypeSRV},
		{"host-a.node.understudy.", mdns.TypeA},
		{"understudy.", mdns.TypeSOA},
		{"nope.service.understudy.", mdns.TypeA},
		{"example.com.", mdns.TypeA},
	}
	for _, q := range queries {
		var first string
		for _, co := range c.Coordinators {
			for _, net := range []string{"udp", "tcp"} {
				m := new(mdns.Msg)
				m.SetQuestion(q.name, q.qtype)
				cl := &mdns.Client{Net: net, Timeout: 2 * time.Second}
				r, _, err := cl.ExchangeContext(context.Background(), m, co.DNSAddr())
				if err != nil {
					t.Fatalf("%s %s over %s: %v", co.Name(), q.name, net, err)
				}
				// The SOA serial is the local applied index, which may differ
				// by a few entries between replicas: compare everything else.
				for _, rr := range append(r.Answer, r.Ns...) {
					if soa, ok := rr.(*mdns.SOA); ok {
						soa.Serial = 0
					}
				}
				r.Id = 0
				got := r.String()
				if first == "" {
					first = got
				} else if got != first {
					t.Fatalf("%s %d over %s differs:\n%s\nvs\n%s", q.name, q.qtype, net, got, first)
				}
			}
		}
	}
}

func TestAgentRejoinsAfterWholeClusterRestart(t *testing.T) {
	ctx := t.Context()
	c := New(t, 1)
	c.Leader(10 * time.Second)
	ag := c.StartAgent(c.AgentConfig("host-a", "active", hostagent.Service{Name: "login", Port: 8002}))
	cl := func() *api.Client { return c.Coordinators[0].Client("") }
	Eventually(t, 10*time.Second, "host-a alive", func() bool {
		h, err := cl().Host(ctx, "host-a")
		return err == nil && h.Status == "alive"
	})
	// The whole cluster restarts; the agent is not restarted and must find
	// its way back into the pool and the catalogue.
	c.Restart(0)
	c.Leader(10 * time.Second)
	Eventually(t, 30*time.Second, "host-a back in gossip", func() bool {
		ms, err := cl().Members(ctx)
		if err != nil {
			return false
		}
		for _, m := range ms {
			if m.Name == "host-a" && m.State == "alive" {
				return true
			}
		}
		return false
	})
	// A host whose agent vanished while nobody watched is marked failed.
	ag.Kill()
	c.Restart(0)
	c.Leader(10 * time.Second)
	Eventually(t, 30*time.Second, "host-a failed", func() bool {
		h, err := cl().Host(ctx, "host-a")
		return err == nil && h.Status == "failed"
	})
}
