//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/understudy/understudy/test/rig"
)

// TestPlannedSwitchover moves the login service from host-a to host-b with
// `understudy-coordinator failover login` while logins go through the front
// continuously: the old primary stops before the new one starts, it is not
// fenced, and logins carry on on host-b. The longest stretch without a
// successful login is logged; make bench-failover measures it over runs.
//
// Pending on mirroring: the issue asks that a switchover lose no
// acknowledged write (a writer appending records through the service, all
// present on the new primary afterwards). Agents carry no datasets yet, so
// nothing copies host-a's data to host-b and that half cannot run; this
// test covers the ordering and the unavailability.
func TestPlannedSwitchover(t *testing.T) {
	c, a, b := failoverPair(t, "cold", false)
	epoch := serviceNow(t, c, "login").Epoch
	pa := rig.StartProbe(a.ServiceAddr(), probeEvery, probeTimeout, probeLimit)
	pb := rig.StartProbe(b.ServiceAddr(), probeEvery, probeTimeout, probeLimit)
	t.Cleanup(pa.Stop)
	t.Cleanup(pb.Stop)
	logins := rig.StartLoginProbe(c.Coords[0].FrontURL("osgrid"), testFirst, testLast, testPassword, 5*time.Millisecond, probeLimit)
	t.Cleanup(logins.Stop)
	rig.Eventually(t, 5*time.Second, "logins through the front", func() bool { return logins.Stats().OK > 5 })

	begin := time.Now()
	out, errOut, code := runCLI(t, []string{"UNDERSTUDY_HTTP_ADDR=" + c.Coords[1].HTTP},
		"understudy-coordinator", "failover", "login", "--to", "host-b", "--token", rig.AdminToken)
	if code != 0 {
		t.Fatalf("failover login: exit %d: %s%s", code, out, errOut)
	}
	t.Logf("failover login: %s", out)
	rig.Eventually(t, 30*time.Second, "logins served by host-b and DNS answering it", func() bool {
		r, err := rig.Login(context.Background(), c.Coords[0].FrontURL("osgrid"), testFirst, testLast, testPassword, 2*time.Second)
		return err == nil && r.OK && r.ServedBy == "host-b" && rig.AllAnswer(c.DNSAddrs(), failoverDNSName, b.IP)
	})
	switched := time.Since(begin)
	// Keep logging in a little after the switch, so that the longest gap
	// is not cut short.
	after := time.Now().Add(time.Second)
	rig.Eventually(t, 5*time.Second, "logins after the switchover", func() bool { return time.Now().After(after) })
	logins.Stop()
	pa.Stop()
	pb.Stop()

	neverBoth(t, pa, pb)
	st := logins.Stats()
	t.Logf("switchover: logins served by host-b %v after the command; through the front %d logins ok, %d failed, served by %v; longest gap without a login %v",
		switched.Round(time.Millisecond), st.OK, st.Failed, st.ServedBy, st.LongestGap.Round(time.Millisecond))
	for _, f := range st.Failures {
		t.Logf("failed login through the front: %s", f)
	}
	if st.ServedBy["host-a"] == 0 || st.ServedBy["host-b"] == 0 {
		t.Errorf("logins served by %v, want both hosts in turn", st.ServedBy)
	}

	s := serviceNow(t, c, "login")
	if s.Primary != "host-b" || s.Epoch <= epoch {
		t.Fatalf("after the switchover the service is %+v, want primary host-b above epoch %d", s, epoch)
	}
	if in, ok := instanceOf(s, "host-a"); !ok || in.Fenced || in.Primary {
		t.Errorf("host-a's instance after a planned switchover is %+v, want it unfenced and standing by", in)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	proms, err := c.Client().Promotions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(proms); n == 0 || !proms[n-1].Planned || proms[n-1].To != "host-b" {
		t.Errorf("promotions %+v, want the last one planned to host-b", proms)
	}
}
