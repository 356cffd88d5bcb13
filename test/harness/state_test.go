package harness

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/understudy/understudy/pkg/api"
)

func TestStateSaveRestore(t *testing.T) {
	ctx := t.Context()
	c := New(t, 3)
	li := c.Leader(10 * time.Second)
	follower := c.Coordinators[(li+1)%3]
	agent := follower.Client(c.AgentToken)
	for _, name := range []string{"host-a", "host-b"} {
		if err := agent.Register(ctx, api.Registration{Name: name, Role: "standby", Address: "127.0.0.1",
			Services: []api.ServiceDef{{Name: "login", Port: 8002}}}); err != nil {
			t.Fatal(err)
		}
	}
	var saved bytes.Buffer
	if err := follower.Client("").SaveState(ctx, &saved); err != nil {
		t.Fatal(err)
	}
	admin := follower.Client(c.AdminToken)
	if err := admin.DeleteHost(ctx, "host-a"); err != nil {
		t.Fatal(err)
	}
	if err := follower.Client(c.AgentToken).RestoreState(ctx, saved.Bytes()); !api.IsStatus(err, http.StatusForbidden) {
		t.Fatalf("restore with the agent token = %v, want 403", err)
	}
	if err := admin.RestoreState(ctx, []byte(`{"version":42}`)); !api.IsStatus(err, http.StatusBadRequest) {
		t.Fatalf("restore of a bad state = %v, want 400", err)
	}
	if err := admin.RestoreState(ctx, saved.Bytes()); err != nil {
		t.Fatal(err)
	}
	for _, co := range c.Coordinators {
		Eventually(t, 10*time.Second, "host-a back on "+co.Name(), func() bool {
			_, ok := co.Catalog().Host("host-a")
			return ok
		})
	}
}

func TestPeersRemoveDropsADeadCoordinator(t *testing.T) {
	ctx := t.Context()
	c := New(t, 3)
	li := c.Leader(10 * time.Second)
	dead := c.Coordinators[(li+1)%3]
	dead.Kill()
	admin := c.Coordinators[li].Client(c.AdminToken)
	Eventually(t, 10*time.Second, "the dead peer removed", func() bool {
		return admin.RemovePeer(ctx, dead.Name()) == nil
	})
	nl := c.Leader(10 * time.Second)
	peers, err := c.Coordinators[nl].Client("").Peers(ctx)
	if err != nil || len(peers) != 2 {
		t.Fatalf("peers after remove = %+v, %v", peers, err)
	}
	for _, p := range peers {
		if p.ID == dead.Name() {
			t.Fatalf("removed peer still listed: %+v", peers)
		}
	}
	if err := c.Coordinators[nl].Client(c.AgentToken).Register(ctx, api.Registration{Name: "h", Address: "127.0.0.1"}); err != nil {
		t.Fatalf("write after removing a peer: %v", err)
	}
}
