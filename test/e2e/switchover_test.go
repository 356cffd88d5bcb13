//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/test/rig"
)

// TestPlannedSwitchover moves the login service from host-a to host-b with
// `understudy-coordinator failover login` while logins go through the front
// continuously: the old primary stops before the new one starts, it is not
// fenced, and logins carry on on host-b. The longest stretch without a
// successful login is logged; make bench-failover measures it over runs.
// TestPlannedSwitchoverKeepsAcknowledgedWrites covers the data.
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

// writer creates accounts through whichever instance DNS names first, one
// after the other, and keeps the ones acknowledged (201).
type writer struct {
	stop, done chan struct{}

	mu    sync.Mutex // guards acked and tries
	acked []string   // last names of acknowledged accounts
	tries int
}

func startWriter(dnsAddr string) *writer {
	w := &writer{stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	go func() {
		defer close(w.done)
		for i := 0; i < 100000; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			answer, err := rig.Answer(dnsAddr, failoverDNSName)
			ip, _, _ := strings.Cut(answer, ",")
			if err != nil || ip == "" {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			last := fmt.Sprintf("Writer%05d", i)
			body := fmt.Sprintf(`{"first":"Acked","last":%q,"password":"pw"}`, last)
			resp, err := client.Post(fmt.Sprintf("http://%s:%d/accounts", ip, rig.ServicePort), "application/json", strings.NewReader(body))
			w.mu.Lock()
			w.tries++
			if err == nil && resp.StatusCode == http.StatusCreated {
				w.acked = append(w.acked, last)
			}
			w.mu.Unlock()
			if err == nil {
				resp.Body.Close()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return w
}

func (w *writer) finish() ([]string, int) {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.acked...), w.tries
}

// TestPlannedSwitchoverKeepsAcknowledgedWrites writes accounts through the
// primary (found by DNS) before, during and after a planned switchover of
// a mirrored login service, and then logs in on the new primary with every
// account whose creation was acknowledged. The service's data is a dataset
// of class transactional (shipped continuously) in one run and of class
// user (snapshots) in the other.
//
// The old primary stops its service, then syncs the datasets to the new
// primary (a last snapshot and mirror, or for a streamed dataset a last
// complete stream comparison) while it still holds its lease, and only
// then gives the lease up: the new primary starts with every write.
func TestPlannedSwitchoverKeepsAcknowledgedWrites(t *testing.T) {
	for _, class := range []string{"transactional", "user"} {
		t.Run(class, func(t *testing.T) { switchoverKeepsWrites(t, class) })
	}
}

func switchoverKeepsWrites(t *testing.T, class string) {
	c, a, b := failoverPairClass(t, "cold", class)
	w := startWriter(c.Coords[0].DNS)
	t.Cleanup(func() { w.finish() })
	rig.Eventually(t, 10*time.Second, "writes acknowledged by host-a", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.acked) >= 20
	})
	out, errOut, code := runCLI(t, nil, "understudy-coordinator", "failover", "login", "--to", "host-b",
		"--addr", c.Coords[1].HTTP, "--token", rig.AdminToken)
	if code != 0 {
		t.Fatalf("failover login: exit %d: %s%s", code, out, errOut)
	}
	rig.Eventually(t, 30*time.Second, "DNS answering host-b", func() bool {
		return rig.AllAnswer(c.DNSAddrs(), failoverDNSName, b.IP)
	})
	w.mu.Lock()
	switched := len(w.acked)
	w.mu.Unlock()
	rig.Eventually(t, 10*time.Second, "writes acknowledged by host-b", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.acked) >= switched+20
	})
	acked, tries := w.finish()
	if a.Exited() || len(a.ServicePIDs()) != 0 {
		t.Fatalf("host-a after the switchover: exited %v, service processes %v; want the agent running and the service stopped", a.Exited(), a.ServicePIDs())
	}

	var lost []string
	for _, last := range acked {
		r, err := rig.Login(context.Background(), "http://"+b.ServiceAddr()+"/", "Acked", last, "pw", 2*time.Second)
		if err != nil {
			t.Fatalf("login on host-b: %v", err)
		}
		if !r.OK {
			lost = append(lost, last)
		}
	}
	t.Logf("%d writes tried, %d acknowledged, %d of them missing on the new primary host-b", tries, len(acked), len(lost))
	if len(lost) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ds, err := c.Client().Datasets(ctx)
		cancel()
		var mirrored []string
		for _, d := range ds {
			mirrored = append(mirrored, fmt.Sprintf("%s on %s: last snapshot %d, last mirror %d", d.Dataset, d.Host, d.LastSnapshot, d.LastMirror))
		}
		t.Fatalf("%d acknowledged writes are not on the new primary (first %s, last %s); datasets %v %v",
			len(lost), lost[0], lost[len(lost)-1], mirrored, err)
	}
}
