package gossip

import (
	"maps"
	"testing"
)

func TestChecksPropagateAndLateJoinerConverges(t *testing.T) {
	t.Parallel()
	a, b, c := threeNodes(t, nil)
	sub := a.Subscribe()
	defer sub.Close()

	first := map[string]CheckStatus{"login": CheckPassing, "robust": CheckWarning, "region-1": CheckCritical}
	if err := b.SetChecks(first); err != nil {
		t.Fatalf("SetChecks: %v", err)
	}
	own := b.Checks()["host-b"]
	if !maps.Equal(own.Checks, first) {
		t.Fatalf("b.Checks()[host-b] = %v, want %v", own.Checks, first)
	}
	for _, p := range []*Pool{a, c} {
		waitFor(t, p.LocalNode().Name+" sees host-b's checks", func() bool {
			nc, ok := p.Checks()["host-b"]
			return ok && nc.Seq == own.Seq && maps.Equal(nc.Checks, first)
		})
	}
	ev := waitEvent(t, sub.C(), "checks of host-b", func(ev Event) bool {
		return ev.Type == EventChecks && ev.Member.Name == "host-b"
	})
	if !maps.Equal(ev.Checks.Checks, first) || ev.Member.Meta.HostID != "host-b" {
		t.Errorf("checks event = %+v", ev)
	}

	// An unchanged map is not a change.
	if err := b.SetChecks(maps.Clone(first)); err != nil {
		t.Fatal(err)
	}
	if got := b.Checks()["host-b"].Seq; got != own.Seq {
		t.Errorf("seq after unchanged SetChecks = %d, want %d", got, own.Seq)
	}

	second := map[string]CheckStatus{"login": CheckCritical, "robust": CheckPassing}
	if err := b.SetChecks(second); err != nil {
		t.Fatal(err)
	}
	if got := b.Checks()["host-b"].Seq; got <= own.Seq {
		t.Errorf("seq after a change = %d, want > %d", got, own.Seq)
	}
	if err := c.SetChecks(map[string]CheckStatus{"region-2": CheckPassing}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "coord-1 sees the new statuses", func() bool {
		all := a.Checks()
		return maps.Equal(all["host-b"].Checks, second) && all["host-c"].Checks["region-2"] == CheckPassing
	})

	// Wait until nothing is left to gossip, so the late joiner can only
	// learn the statuses through push-pull.
	for _, p := range []*Pool{a, b, c} {
		waitFor(t, p.LocalNode().Name+"'s broadcast queue drains", func() bool { return p.queue.NumQueued() == 0 })
	}
	d := startPool(t, testConfig(t, "coord-2", coordMeta("coord-2")))
	join(t, d, a)
	waitFor(t, "late joiner sees every node's statuses", func() bool {
		all := d.Checks()
		return maps.Equal(all["host-b"].Checks, second) && all["host-c"].Checks["region-2"] == CheckPassing
	})
}

func TestSetChecksRejectsBadInput(t *testing.T) {
	t.Parallel()
	p := startPool(t, testConfig(t, "host-a", agentMeta("host-a", RoleActive)))
	big := map[string]CheckStatus{}
	for i := range 20 {
		big[string(rune('a'+i))+"-a-rather-long-service-name-for-a-region-simulator-x"] = CheckPassing
	}
	cases := []struct {
		name   string
		checks map[string]CheckStatus
	}{
		{"empty name", map[string]CheckStatus{"": CheckPassing}},
		{"zero status", map[string]CheckStatus{"login": 0}},
		{"unknown status", map[string]CheckStatus{"login": 9}},
		{"too large", big},
	}
	for _, tc := range cases {
		if err := p.SetChecks(tc.checks); err == nil {
			t.Errorf("%s: SetChecks succeeded", tc.name)
		}
	}
	if _, ok := p.Checks()["host-a"]; ok {
		t.Error("rejected statuses were stored")
	}
	twenty := map[string]CheckStatus{}
	for i := range 20 {
		twenty["region-simulator-"+string(rune('a'+i))] = CheckStatus(1 + i%3)
	}
	if err := p.SetChecks(twenty); err != nil {
		t.Errorf("SetChecks with twenty services: %v", err)
	}
}
