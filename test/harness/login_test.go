package harness

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/test/gridlogin"
)

func loginVia(t *testing.T, front, grid string) (int, string) {
	t.Helper()
	resp, err := http.Post("http://"+front+"/grid/"+grid+"/", "text/xml", strings.NewReader(gridlogin.LoginRequest("Test", "User", "pw")))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestLoginFrontReroutesAndRestarts(t *testing.T) {
	ctx := t.Context()
	c := New(t, 1)
	c.Leader(10 * time.Second)
	a := newLoginHost(t, c, "host-a", "active", "hot")
	b := newLoginHost(t, c, "host-b", "standby", "hot")
	a.start(c)
	b.start(c)
	co := c.Coordinators[0]
	Eventually(t, 30*time.Second, "both instances healthy", func() bool {
		return len(dnsLogin(t, co.DNSAddr())) == 2
	})
	rt, err := co.Client("").Route(ctx, "testgrid")
	if err != nil || rt.Host != "host-a" || !rt.Primary {
		t.Fatalf("route = %+v, %v", rt, err)
	}
	code, body := loginVia(t, co.LoginAddr(), "testgrid")
	if code != 200 || !strings.Contains(body, "<string>host-a</string>") {
		t.Fatalf("login through the front: %d %s", code, body)
	}

	// The primary's service dies while its agent lives: the same login goes
	// to the standby, and the agent is asked to restart the service.
	starts := a.ctl.Starts()
	a.ctl.Stop(ctx)
	code, body = loginVia(t, co.LoginAddr(), "testgrid")
	if code != 200 || !strings.Contains(body, "<name>login</name><value><string>true</string>") ||
		!strings.Contains(body, "<string>host-b</string>") {
		t.Fatalf("login with the primary down: %d %s", code, body)
	}
	Eventually(t, 15*time.Second, "the agent to restart the primary's service", func() bool {
		return a.ctl.Starts() > starts && a.ctl.Running()
	})
	Eventually(t, 15*time.Second, "logins back on the primary", func() bool {
		code, body := loginVia(t, co.LoginAddr(), "testgrid")
		return code == 200 && strings.Contains(body, "<string>host-a</string>")
	})

	if _, err := co.Client("").Route(ctx, "nogrid"); err == nil {
		t.Fatal("route of an unknown grid succeeded")
	}
}
