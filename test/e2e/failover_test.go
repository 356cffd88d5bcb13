//go:build e2e

package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/understudy/understudy/test/gridlogin"
	"github.com/understudy/understudy/test/rig"
)

// TestKilledPrimaryFailsOverToColdStandby SIGKILLs the primary host's agent
// and its login service: the coordinators promote the cold standby, DNS
// answers it and a login with the test account through the front succeeds
// on it. The times are logged; make bench-failover measures them over many
// runs.
func TestKilledPrimaryFailsOverToColdStandby(t *testing.T) {
	c, a, b := failoverPair(t, "cold", false)
	if pids := b.ServicePIDs(); len(pids) != 0 {
		t.Fatalf("the cold standby runs %v before any failover", pids)
	}
	svcPIDs := servicePIDs(t, a)
	epoch := serviceNow(t, c, "login").Epoch

	begin := time.Now()
	a.Kill()
	for _, pid := range svcPIDs {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	var (
		wg              sync.WaitGroup
		toDNS, toLogin  time.Duration
		servedBy        string
		dnsErr, loginOK bool
	)
	deadline := begin.Add(30 * time.Second)
	wg.Go(func() {
		for time.Now().Before(deadline) {
			if rig.AllAnswer(c.DNSAddrs(), failoverDNSName, b.IP) {
				toDNS = time.Since(begin)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		dnsErr = true
	})
	wg.Go(func() {
		for time.Now().Before(deadline) {
			r, err := rig.Login(context.Background(), c.Coords[1].FrontURL("osgrid"), testFirst, testLast, testPassword, 2*time.Second)
			if err == nil && r.OK {
				toLogin, servedBy, loginOK = time.Since(begin), r.ServedBy, true
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	wg.Wait()
	if dnsErr {
		t.Fatalf("DNS did not answer only the standby %s on every coordinator within 30s of the kill", b.IP)
	}
	if !loginOK {
		t.Fatal("no login through the front succeeded within 30s of the kill")
	}
	if servedBy != "host-b" {
		t.Fatalf("the login after the kill was served by %q, want host-b", servedBy)
	}
	t.Logf("primary SIGKILLed: DNS answers the standby on every coordinator after %v, a login through the front succeeds after %v",
		toDNS.Round(time.Millisecond), toLogin.Round(time.Millisecond))

	// The killed service is gone from the process table; the standby is
	// the primary at a higher epoch, and the promotion is in the history.
	for _, pid := range svcPIDs {
		if rig.Alive(pid) {
			t.Errorf("host-a's service process %d survived its SIGKILL", pid)
		}
	}
	s := serviceNow(t, c, "login")
	if s.Primary != "host-b" || s.Epoch <= epoch {
		t.Errorf("after the failover the service is %+v, want primary host-b above epoch %d", s, epoch)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	proms, err := c.Client().Promotions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range proms {
		if p.Service == "login" && p.From == "host-a" && p.To == "host-b" && !p.Planned {
			found = true
			t.Logf("promotion: %+v", p)
		}
	}
	if !found {
		t.Errorf("no automatic promotion host-a → host-b in %+v", proms)
	}
}

// TestLoginFrontErrorsThroughProcess sends good and bad requests to a real
// coordinator's login front.
func TestLoginFrontErrorsThroughProcess(t *testing.T) {
	c := rig.Start(t, rig.Spec{Bins: bins, Profile: "fast"})
	a := c.StartHost(rig.HostSpec{Name: "host-a", Role: "active", Services: rig.LoginService("cold")})
	if err := gridlogin.AddAccount(a.Data, testFirst, testLast, testPassword); err != nil {
		t.Fatal(err)
	}
	front := c.Coords[2]
	rig.Eventually(t, 60*time.Second, "a login through the front", func() bool {
		r, err := rig.Login(context.Background(), front.FrontURL("osgrid"), testFirst, testLast, testPassword, 2*time.Second)
		return err == nil && r.OK
	})

	post := func(url, body string) (int, string) {
		t.Helper()
		resp, err := http.Post(url, "text/xml", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	login := gridlogin.LoginRequest(testFirst, testLast, testPassword)

	// A valid login passes through byte for byte: the front's answer is
	// the instance's own.
	_, direct := post("http://"+a.ServiceAddr()+"/", login)
	code, via := post(front.FrontURL("osgrid"), login)
	if code != http.StatusOK || via != direct {
		t.Errorf("login through the front: %d %q, want 200 and the instance's own answer %q", code, via, direct)
	}

	cases := []struct {
		name, path, body string
		want             int
		says             string
	}{
		{"unknown grid", "/grid/nosuchgrid/", login, http.StatusNotFound, "nosuchgrid"},
		{"no grid in the path", "/login", login, http.StatusNotFound, "/grid/NAME/"},
		{"malformed XML", "/grid/osgrid/", "<methodCall><methodName>login_to_simulator</methodName><params>", http.StatusBadRequest, ""},
		{"not XML at all", "/grid/osgrid/", "first=Ada&last=Lovelace", http.StatusBadRequest, ""},
		{"huge body", "/grid/osgrid/", "<methodCall>" + strings.Repeat("x", 2<<20) + "</methodCall>", http.StatusRequestEntityTooLarge, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post("http://"+front.Login+tc.path, tc.body)
			if code != tc.want {
				t.Errorf("POST %s: %d %q, want %d", tc.path, code, body, tc.want)
			}
			if tc.says != "" && !strings.Contains(body, tc.says) {
				t.Errorf("POST %s: answer %q does not mention %q", tc.path, body, tc.says)
			}
		})
	}

	// get_grid_info comes from the instance; other methods are refused.
	resp, err := http.Get(front.FrontURL("osgrid") + "get_grid_info")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "<gridname>osgrid</gridname>") {
		t.Errorf("get_grid_info through the front: %d %q", resp.StatusCode, b)
	}
	req, _ := http.NewRequest(http.MethodDelete, front.FrontURL("osgrid"), nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("DELETE through the front: %d, want 405", resp.StatusCode)
	}
}
