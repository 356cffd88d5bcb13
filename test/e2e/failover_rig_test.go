//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/test/gridlogin"
	"github.com/understudy/understudy/test/rig"
)

// The failover tests run on test/rig: three coordinators and two agent
// hosts, every process on a loopback address of its own, the stand-in login
// service supervised by each agent on port 8002 of its host's address.

const (
	failoverDNSName = "login.service.understudy."
	testFirst       = "Ada"
	testLast        = "Lovelace"
	testPassword    = "difference-engine"
)

// failoverPair starts a fast-profile cluster with a primary host-a and a
// standby host-b of the login service (standby "cold" or "hot"), both
// holding the test account, and waits until DNS on every coordinator
// answers host-a and a login through the front is served by host-a.
//
// The account is written into both hosts' data directories rather than
// left to the mirror: the first snapshot of a dataset is skipped when it
// runs before the agent holds the service's lease, and the next comes a
// minute later, so a login on the standby cannot yet count on the mirror
// within a test. With mirror, the hosts protect the service's data as a
// mirrored dataset all the same.
func failoverPair(t *testing.T, standby string, mirror bool) (*rig.Cluster, *rig.Host, *rig.Host) {
	t.Helper()
	class := ""
	if mirror {
		class = "user"
	}
	return failoverPairClass(t, standby, class)
}

// failoverPairClass is [failoverPair] with the class of the mirrored
// dataset ("" mirrors nothing).
func failoverPairClass(t *testing.T, standby, class string) (*rig.Cluster, *rig.Host, *rig.Host) {
	t.Helper()
	c := rig.Start(t, rig.Spec{Bins: bins, Profile: "fast"})
	addAccount := func(data string) error { return gridlogin.AddAccount(data, testFirst, testLast, testPassword) }
	// The standby first: the primary's first snapshot goes to the standbys
	// registered by then.
	b := c.StartHost(rig.HostSpec{Name: "host-b", Role: "standby", Services: rig.LoginService(standby), Mirror: class != "", MirrorClass: class, Prepare: addAccount})
	rig.Eventually(t, 30*time.Second, "host-b registered and alive", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		h, err := c.Client().Host(ctx, "host-b", api.Consistent())
		return err == nil && h.Status == "alive"
	})
	a := c.StartHost(rig.HostSpec{Name: "host-a", Role: "active", Services: rig.LoginService(standby), Mirror: class != "", MirrorClass: class, Prepare: addAccount})
	want := a.IP
	if standby == "hot" {
		want = a.IP + "," + b.IP
	}
	rig.Eventually(t, 60*time.Second, "DNS answering "+want+" on every coordinator", func() bool {
		return rig.AllAnswer(c.DNSAddrs(), failoverDNSName, want)
	})
	rig.Eventually(t, 20*time.Second, "a login through the front served by host-a", func() bool {
		r, err := rig.Login(context.Background(), c.Coords[0].FrontURL("osgrid"), testFirst, testLast, testPassword, 2*time.Second)
		return err == nil && r.OK && r.ServedBy == "host-a"
	})
	return c, a, b
}

// serviceNow reads a service through any coordinator, consistently.
func serviceNow(t *testing.T, c *rig.Cluster, name string) api.Service {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.Client().Service(ctx, name, api.Consistent())
	if err != nil {
		t.Fatalf("service %s: %v", name, err)
	}
	return s
}

// instanceOf returns host's instance of s.
func instanceOf(s api.Service, host string) (api.Instance, bool) {
	for _, in := range s.Instances {
		if in.Host == host {
			return in, true
		}
	}
	return api.Instance{}, false
}

// servicePIDs waits until h's agent supervises a process and returns the
// processes.
func servicePIDs(t *testing.T, h *rig.Host) []int {
	t.Helper()
	var pids []int
	rig.Eventually(t, 10*time.Second, h.Name+"'s service process", func() bool {
		pids = h.ServicePIDs()
		return len(pids) > 0
	})
	return pids
}
