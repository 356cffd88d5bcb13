//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/pkg/gossip"
	"github.com/understudy/understudy/test/rig"
)

var (
	reHTTP   = regexp.MustCompile(`msg="coordinator starting".* http=(\S+)`)
	reDNS    = regexp.MustCompile(`msg="coordinator starting".* dns=(\S+)`)
	reGossip = regexp.MustCompile(`msg="coordinator starting".* gossip=(\S+)`)
)

type coordProc struct {
	*rig.Proc
	http, dns, gossip string
}

func coordinatorConfig(name, dir, key string, join []string) string {
	j := ""
	if len(join) > 0 {
		j = fmt.Sprintf("retry_join: [%s]\n", strings.Join(join, ", "))
	}
	return fmt.Sprintf(`node_name: %s
data_dir: %s
bind_addr: 127.0.0.1
ports: {raft: 0, gossip: 0, http: 0, dns: 0, login: 0}
bootstrap_expect: 3
%sencrypt: %q
acl: {admin_token: admin-secret, agent_token: agent-secret}
gossip_profile: fast
log_level: info
`, name, dir, j, key)
}

func startCoordinator(t *testing.T, name, key string, join []string) *coordProc {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "coordinator.yaml", coordinatorConfig(name, dir, key, join))
	p := rig.StartProc(t, name, 0, bins.Coordinator, "serve", "--config", cfg)
	return &coordProc{Proc: p,
		http:   p.Field(t, reHTTP, 20*time.Second),
		dns:    p.Field(t, reDNS, 20*time.Second),
		gossip: p.Field(t, reGossip, 20*time.Second),
	}
}

func startAgent(t *testing.T, name, role, key string, join []string) *rig.Proc {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "agent.yaml", fmt.Sprintf(`node_name: %s
data_dir: %s
role: %s
bind_addr: 127.0.0.1
ports: {gossip: 0, http: 0}
retry_join: [%s]
encrypt: %q
token: agent-secret
gossip_profile: fast
services:
  - {name: login, grid: osgrid, port: 8002}
`, name, dir, role, strings.Join(join, ", "), key))
	return rig.StartProc(t, name, 0, bins.Agent, "run", "--config", cfg)
}

func dnsA(addr, name string) ([]string, int, error) {
	m := new(mdns.Msg)
	m.SetQuestion(name, mdns.TypeA)
	r, _, err := (&mdns.Client{Timeout: time.Second}).Exchange(m, addr)
	if err != nil {
		return nil, 0, err
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*mdns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out, r.Rcode, nil
}

func TestThreeCoordinatorsSurviveLeaderKill(t *testing.T) {
	key, err := gossip.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	c1 := startCoordinator(t, "coord-1", key, nil)
	c2 := startCoordinator(t, "coord-2", key, []string{c1.gossip})
	c3 := startCoordinator(t, "coord-3", key, []string{c1.gossip})
	coords := []*coordProc{c1, c2, c3}
	startAgent(t, "host-a", "active", key, []string{c1.gossip, c2.gossip})
	startAgent(t, "host-b", "standby", key, []string{c2.gossip, c3.gossip})

	ctx := context.Background()
	var leader string
	rig.Eventually(t, 30*time.Second, "a leader and two registered hosts", func() bool {
		l, err := api.NewClient(c2.http, "").Leader(ctx)
		if err != nil || l.ID == "" {
			return false
		}
		hs, err := api.NewClient(c3.http, "").Hosts(ctx, api.Consistent())
		leader = l.ID
		return err == nil && len(hs) == 2
	})
	for _, c := range coords {
		rig.Eventually(t, 10*time.Second, "DNS on "+c.Name, func() bool {
			a, rc, err := dnsA(c.dns, "login.service.understudy.")
			return err == nil && rc == mdns.RcodeSuccess && len(a) == 1
		})
	}

	// The CLI reads through any coordinator.
	out, errOut, code := runCLI(t, []string{"UNDERSTUDY_HTTP_ADDR=" + c2.http}, "understudy-coordinator", "hosts", "--json", "--consistent")
	if code != 0 {
		t.Fatalf("hosts --json: exit %d: %s", code, errOut)
	}
	var hosts []api.Host
	if err := json.Unmarshal([]byte(out), &hosts); err != nil || len(hosts) != 2 {
		t.Fatalf("hosts --json = %q (%v)", out, err)
	}

	// SIGKILL the leader.
	var survivors []*coordProc
	for _, c := range coords {
		if c.Name == leader {
			c.Kill()
		} else {
			survivors = append(survivors, c)
		}
	}
	if len(survivors) != 2 {
		t.Fatalf("leader %q not among the coordinators", leader)
	}
	// DNS keeps answering on the survivors throughout, and the API gets a
	// new leader that accepts writes.
	for _, c := range survivors {
		a, rc, err := dnsA(c.dns, "login.service.understudy.")
		if err != nil || rc != mdns.RcodeSuccess || len(a) == 0 {
			t.Fatalf("DNS on %s right after the leader died: %v rcode %d answers %v", c.Name, err, rc, a)
		}
	}
	rig.Eventually(t, 20*time.Second, "a new leader", func() bool {
		l, err := api.NewClient(survivors[0].http, "").Leader(ctx)
		return err == nil && l.ID != "" && l.ID != leader
	})
	reg := api.Registration{Name: "host-c", Role: "standby", Address: "127.0.0.1"}
	rig.Eventually(t, 20*time.Second, "a write through a survivor", func() bool {
		return api.NewClient(survivors[1].http, "agent-secret").Register(ctx, reg) == nil
	})
	out, _, code = runCLI(t, nil, "understudy-coordinator", "hosts", "--consistent", "--addr", survivors[0].http)
	if code != 0 || !strings.Contains(out, "host-c") {
		t.Fatalf("hosts after failover: exit %d:\n%s", code, out)
	}

	// A graceful stop of a survivor exits promptly.
	if err := survivors[1].Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}
