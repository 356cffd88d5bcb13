package gossip

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"
)

// threeNodes starts a coordinator and two agents and joins them.
func threeNodes(t *testing.T, key []byte) (a, b, c *Pool) {
	t.Helper()
	cfgA := testConfig(t, "coord-1", coordMeta("coord-1"))
	cfgB := testConfig(t, "host-b", agentMeta("host-b", RoleActive))
	cfgC := testConfig(t, "host-c", agentMeta("host-c", RoleStandby))
	for _, c := range []*Config{&cfgA, &cfgB, &cfgC} {
		c.Key = key
	}
	a, b, c = startPool(t, cfgA), startPool(t, cfgB), startPool(t, cfgC)
	join(t, b, a)
	join(t, c, a)
	for _, p := range []*Pool{a, b, c} {
		waitFor(t, p.LocalNode().Name+" sees three alive members", func() bool { return p.NumMembers() == 3 })
	}
	return a, b, c
}

func TestPoolJoinSeesMetaAndUpdates(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	key[0] = 7
	a, b, c := threeNodes(t, key)

	want := map[string]Meta{
		"coord-1": coordMeta("coord-1"),
		"host-b":  agentMeta("host-b", RoleActive),
		"host-c":  agentMeta("host-c", RoleStandby),
	}
	for _, p := range []*Pool{a, b, c} {
		ms := p.Members()
		if len(ms) != 3 {
			t.Fatalf("%s: Members() = %d members, want 3: %+v", p.LocalNode().Name, len(ms), ms)
		}
		if !slices.IsSortedFunc(ms, func(x, y Member) int { return compareNames(x.Name, y.Name) }) {
			t.Errorf("%s: Members() not sorted by name", p.LocalNode().Name)
		}
		for _, m := range ms {
			if m.State != StateAlive {
				t.Errorf("%s sees %s as %s, want alive", p.LocalNode().Name, m.Name, m.State)
			}
			if m.Meta != want[m.Name] {
				t.Errorf("%s sees %s meta %+v, want %+v", p.LocalNode().Name, m.Name, m.Meta, want[m.Name])
			}
		}
	}
	if got := b.LocalNode(); got.Addr != b.Addr() || got.State != StateAlive || got.Meta != want["host-b"] {
		t.Errorf("b.LocalNode() = %+v, Addr() = %s", got, b.Addr())
	}

	// The coordinator's event stream reported both agents joining, in
	// whichever order it merged their push-pulls.
	joined := map[string]bool{}
	for len(joined) < 2 {
		ev := waitEvent(t, a.Events(), "joins of host-b and host-c", func(ev Event) bool {
			return ev.Type == EventJoin && (ev.Member.Name == "host-b" || ev.Member.Name == "host-c")
		})
		joined[ev.Member.Name] = true
	}

	sub := c.Subscribe()
	defer sub.Close()
	promoted := agentMeta("host-b", RoleStandby)
	promoted.Version = "0.2.0"
	if err := b.UpdateMeta(promoted); err != nil {
		t.Fatalf("UpdateMeta: %v", err)
	}
	for _, p := range []*Pool{a, c} {
		waitFor(t, p.LocalNode().Name+" sees host-b's new meta", func() bool {
			m, ok := member(p, "host-b")
			return ok && m.Meta == promoted
		})
	}
	ev := waitEvent(t, sub.C(), "update of host-b", func(ev Event) bool {
		return ev.Type == EventUpdate && ev.Member.Name == "host-b"
	})
	if ev.Member.Meta != promoted {
		t.Errorf("update event meta = %+v, want %+v", ev.Member.Meta, promoted)
	}

	if err := b.UpdateMeta(Meta{Kind: "router"}); err == nil {
		t.Error("UpdateMeta with an invalid kind succeeded")
	}
}

func compareNames(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestPoolLeaveAndFailure(t *testing.T) {
	t.Parallel()
	a, b, c := threeNodes(t, nil)
	sub := a.Subscribe()
	defer sub.Close()

	if err := c.Leave(5 * time.Second); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if got := c.LocalNode().State; got != StateLeft {
		t.Errorf("leaving node sees itself %s, want left", got)
	}
	if err := c.Shutdown(); err != nil {
		t.Fatalf("Shutdown after leave: %v", err)
	}
	for _, p := range []*Pool{a, b} {
		waitFor(t, p.LocalNode().Name+" sees host-c left", func() bool {
			m, ok := member(p, "host-c")
			return ok && m.State == StateLeft
		})
	}
	waitEvent(t, sub.C(), "leave of host-c", func(ev Event) bool {
		return ev.Type == EventLeave && ev.Member.Name == "host-c" && ev.Member.State == StateLeft
	})

	// A crash: no leave message, the failure detector must notice.
	crashed := time.Now()
	if err := b.Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	waitFor(t, "coord-1 sees host-b dead", func() bool {
		m, ok := member(a, "host-b")
		return ok && m.State == StateDead
	})
	t.Logf("fast profile: host-b declared dead %s after shutdown", time.Since(crashed).Round(time.Millisecond))
	ev := waitEvent(t, sub.C(), "failure of host-b", func(ev Event) bool {
		return ev.Member.Name == "host-b" && ev.Type != EventChecks && ev.Type != EventUpdate
	})
	if ev.Type != EventFailed || ev.Member.State != StateDead {
		t.Errorf("event for host-b = %s/%s, want failed/dead", ev.Type, ev.Member.State)
	}
	if n := a.NumMembers(); n != 1 {
		t.Errorf("NumMembers() = %d, want 1", n)
	}
	if m, _ := member(a, "host-c"); m.State != StateLeft {
		t.Errorf("host-c state = %s after host-b failed, want left", m.State)
	}

	// Shutdown is idempotent and closes the event channels.
	if err := b.Shutdown(); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if _, ok := <-b.Events(); ok {
		// Drain whatever was buffered before the close.
		for range b.Events() {
		}
	}
	if err := b.Leave(time.Second); !errors.Is(err, ErrShutdown) {
		t.Errorf("Leave after Shutdown = %v, want ErrShutdown", err)
	}
	if _, err := b.Join(t.Context(), []string{a.Addr()}); !errors.Is(err, ErrShutdown) {
		t.Errorf("Join after Shutdown = %v, want ErrShutdown", err)
	}
}

func TestPoolRejectsWrongKey(t *testing.T) {
	t.Parallel()
	key1, key2 := make([]byte, 32), make([]byte, 16)
	key1[0], key2[0] = 1, 2
	cases := []struct {
		name          string
		poolKey, join []byte
	}{
		{"different key", key1, key2},
		{"no key joining an encrypted pool", key1, nil},
		{"key joining a plain pool", nil, key1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfgA := testConfig(t, "coord-1", coordMeta("coord-1"))
			cfgA.Key = tc.poolKey
			a := startPool(t, cfgA)
			cfgX := testConfig(t, "intruder", agentMeta("intruder", RoleActive))
			cfgX.Key = tc.join
			x := startPool(t, cfgX)

			if n, err := x.Join(t.Context(), []string{a.Addr()}); err == nil {
				t.Fatalf("Join with a mismatched key = %d, nil; want an error", n)
			}

			// A member with the right key gets in; by the time it is seen,
			// the intruder's attempt is long processed.
			cfgG := testConfig(t, "host-g", agentMeta("host-g", RoleActive))
			cfgG.Key = tc.poolKey
			g := startPool(t, cfgG)
			join(t, g, a)
			waitFor(t, "coord-1 sees host-g", func() bool { _, ok := member(a, "host-g"); return ok })
			for _, p := range []*Pool{a, g} {
				if m, ok := member(p, "intruder"); ok {
					t.Errorf("%s lists the intruder: %+v", p.LocalNode().Name, m)
				}
			}
			if _, ok := member(x, "coord-1"); ok {
				t.Error("intruder lists coord-1")
			}
		})
	}
}

func TestPoolLabelSeparatesClusters(t *testing.T) {
	t.Parallel()
	cfgA := testConfig(t, "coord-1", coordMeta("coord-1"))
	cfgA.Label = "grid-a"
	a := startPool(t, cfgA)
	cfgX := testConfig(t, "other", agentMeta("other", RoleActive))
	cfgX.Label = "grid-b"
	x := startPool(t, cfgX)
	if _, err := x.Join(t.Context(), []string{a.Addr()}); err == nil {
		t.Fatal("Join across labels succeeded")
	}
	if _, ok := member(a, "other"); ok {
		t.Error("coord-1 lists a member of another label")
	}
}

func TestPoolJoinErrors(t *testing.T) {
	t.Parallel()
	a := startPool(t, testConfig(t, "coord-1", coordMeta("coord-1")))
	if _, err := a.Join(t.Context(), nil); err == nil {
		t.Error("Join(nil) succeeded")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := a.Join(ctx, []string{"127.0.0.1:1"}); err == nil {
		t.Error("Join with a cancelled context succeeded")
	}
}

// A crashed agent restarted on the same address rejoins under its name, and
// its new check statuses win over those of its previous life.
func TestPoolRestartedMemberRejoins(t *testing.T) {
	t.Parallel()
	a := startPool(t, testConfig(t, "coord-1", coordMeta("coord-1")))
	cfgB := testConfig(t, "host-b", agentMeta("host-b", RoleActive))
	b, err := New(cfgB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Shutdown() })
	join(t, b, a)
	if err := b.SetChecks(map[string]CheckStatus{"login": CheckPassing}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "coord-1 sees host-b's checks", func() bool { return a.Checks()["host-b"].Checks["login"] == CheckPassing })
	oldSeq := a.Checks()["host-b"].Seq
	addr := b.Addr()
	if err := b.Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "coord-1 sees host-b dead", func() bool { m, _ := member(a, "host-b"); return m.State == StateDead })

	sub := a.Subscribe()
	defer sub.Close()
	_, port, _ := net.SplitHostPort(addr)
	cfgB.BindPort, _ = strconv.Atoi(port)
	cfgB.Meta.Version = "0.2.0"
	b2 := startPool(t, cfgB)
	join(t, b2, a)
	waitEvent(t, sub.C(), "rejoin of host-b", func(ev Event) bool {
		return ev.Type == EventJoin && ev.Member.Name == "host-b"
	})
	waitFor(t, "coord-1 sees the restarted host-b alive with its new meta", func() bool {
		m, _ := member(a, "host-b")
		return m.State == StateAlive && m.Meta.Version == "0.2.0"
	})
	if err := b2.SetChecks(map[string]CheckStatus{"login": CheckCritical}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "coord-1 takes the restarted host-b's checks", func() bool {
		nc := a.Checks()["host-b"]
		return nc.Checks["login"] == CheckCritical && nc.Seq > oldSeq
	})
}

// A leave intent that arrives after the failure detector declared the node
// dead turns the failure into a leave; a repeated intent changes nothing.
func TestLeaveIntentAfterFailure(t *testing.T) {
	t.Parallel()
	p := startPool(t, testConfig(t, "coord-1", coordMeta("coord-1")))
	sub := p.Subscribe()
	defer sub.Close()
	x := Member{Name: "host-x", Addr: "127.0.0.1:9", State: StateAlive, Meta: agentMeta("host-x", RoleActive)}
	expect := func(typ EventType, state State) {
		t.Helper()
		ev := waitEvent(t, sub.C(), typ.String(), func(ev Event) bool { return ev.Member.Name == "host-x" })
		if ev.Type != typ || ev.Member.State != state {
			t.Errorf("event = %s/%s, want %s/%s", ev.Type, ev.Member.State, typ, state)
		}
	}
	p.observe(EventJoin, x)
	expect(EventJoin, StateAlive)
	x.State = StateDead
	p.observe(EventFailed, x)
	expect(EventFailed, StateDead)
	p.handleLeaveIntent(leaveMsg{Node: "host-x", Life: 42})
	expect(EventLeave, StateLeft)
	p.handleLeaveIntent(leaveMsg{Node: "host-x", Life: 42})
	if m, _ := member(p, "host-x"); m.State != StateLeft {
		t.Errorf("host-x is %s, want left", m.State)
	}

	// The node comes back, later crashes: the old intent must not make
	// that crash look like a leave.
	x.State = StateAlive
	p.observe(EventJoin, x)
	p.handleLeaveIntent(leaveMsg{Node: "host-x", Life: 42})
	x.State = StateDead
	p.observe(EventFailed, x)
	if m, _ := member(p, "host-x"); m.State != StateDead {
		t.Errorf("after a rejoin and a crash host-x is %s, want dead", m.State)
	}
}
