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

func failoverBins(t *testing.T) rig.Binaries {
	return rig.Binaries{Coordinator: bin("understudy-coordinator"), Agent: bin("understudy-agent"), Gridlogin: gridloginBin(t)}
}

// failoverPair starts a fast-profile cluster with a primary host-a and a
// standby host-b of the login service (standby "cold" or "hot"), both
// holding the test account, and waits until DNS on every coordinator
// answers host-a and a login through the front is served by host-a.
//
// The account is written into both hosts' data directories: the agents
// have no datasets to mirror yet, so this stands in for the mirror having
// carried it.
func failoverPair(t *testing.T, standby, extra string) (*rig.Cluster, *rig.Host, *rig.Host) {
	t.Helper()
	c := rig.Start(t, rig.Spec{Bins: failoverBins(t), Profile: "fast", Extra: extra})
	a := c.StartHost(rig.HostSpec{Name: "host-a", Role: "active", Services: rig.LoginService(standby)})
	b := c.StartHost(rig.HostSpec{Name: "host-b", Role: "standby", Services: rig.LoginService(standby)})
	for _, h := range []*rig.Host{a, b} {
		if err := gridlogin.AddAccount(h.Dir, testFirst, testLast, testPassword); err != nil {
			t.Fatal(err)
		}
	}
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
