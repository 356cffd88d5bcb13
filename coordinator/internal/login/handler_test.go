package login

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/understudy/understudy/coordinator/internal/catalog"
)

func TestPassThroughByPath(t *testing.T) {
	t.Parallel()
	g := newGrid(t, Config{})
	c := client(t)

	direct := do(t, c, "POST", "http://"+g.primary.Addr()+"/", "", ada)
	got := do(t, c, "POST", g.url, "", ada)
	if got.status != direct.status || got.body != direct.body {
		t.Fatalf("through the front: %d %q\ndirect: %d %q", got.status, got.body, direct.status, direct.body)
	}
	if !loggedIn(got.body) || servedBy(got.body) != "primary" {
		t.Fatalf("login through the front = %s", got.body)
	}
	if ct, want := got.header.Get("Content-Type"), direct.header.Get("Content-Type"); ct != want {
		t.Errorf("Content-Type = %q, want %q", ct, want)
	}

	// A failed login is the login service's answer too, passed on as is.
	wrong := do(t, c, "POST", g.url, "", strings.Replace(ada, "$1$", "$1$0", 1))
	if wrong.status != http.StatusOK || loggedIn(wrong.body) || !strings.Contains(wrong.body, "<string>key</string>") {
		t.Fatalf("wrong password through the front = %d %s", wrong.status, wrong.body)
	}

	// get_grid_info: the instance sees the client's Host, so the answers
	// match when the direct request carries the same one.
	direct = do(t, c, "GET", "http://"+g.primary.Addr()+"/get_grid_info", g.front.Addr(), "")
	got = do(t, c, "GET", g.url+"get_grid_info", "", "")
	if got.status != http.StatusOK || got.body != direct.body || !strings.Contains(got.body, "<gridname>osgrid</gridname>") {
		t.Fatalf("get_grid_info through the front: %d %q\ndirect: %q", got.status, got.body, direct.body)
	}
	// /grid/NAME without the slash is the login URI too.
	if got := do(t, c, "POST", strings.TrimSuffix(g.url, "/"), "", ada); !loggedIn(got.body) {
		t.Fatalf("login at /grid/osgrid = %d %s", got.status, got.body)
	}
}

func TestPassThroughByHost(t *testing.T) {
	t.Parallel()
	g := newGrid(t, Config{Hosts: map[string]string{"login.osgrid.test": "osgrid", "alt.test:9000": "osgrid"}})
	c := client(t)
	base := "http://" + g.front.Addr()
	for _, host := range []string{"login.osgrid.test", "LOGIN.osgrid.test:8080", "alt.test:9000"} {
		got := do(t, c, "POST", base+"/", host, ada)
		if got.status != http.StatusOK || servedBy(got.body) != "primary" {
			t.Errorf("login with Host %s = %d %s", host, got.status, got.body)
		}
		direct := do(t, c, "GET", "http://"+g.primary.Addr()+"/get_grid_info", host, "")
		got = do(t, c, "GET", base+"/get_grid_info", host, "")
		if got.status != http.StatusOK || got.body != direct.body {
			t.Errorf("get_grid_info with Host %s = %d %q, want %q", host, got.status, got.body, direct.body)
		}
	}
	for _, host := range []string{"alt.test", "other.test", g.front.Addr()} {
		if got := do(t, c, "POST", base+"/", host, ada); got.status != http.StatusNotFound {
			t.Errorf("login with unknown Host %s = %d %s, want 404", host, got.status, got.body)
		}
	}
}

// waitFailure returns the next failure reported, or fails the test.
func waitFailure(t *testing.T, g *grid) failure {
	t.Helper()
	select {
	case f := <-g.failures:
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("no upstream failure reported")
		return failure{}
	}
}

func TestPrimaryDownFailsOver(t *testing.T) {
	t.Parallel()
	g := newGrid(t, Config{})
	c := client(t)
	if got := do(t, c, "POST", g.url, "", ada); servedBy(got.body) != "primary" {
		t.Fatalf("before: %s", got.body)
	}
	g.primary.Close() // the catalogue still says passing

	got := do(t, c, "POST", g.url, "", ada)
	if got.status != http.StatusOK || !loggedIn(got.body) || servedBy(got.body) != "backup" {
		t.Fatalf("login with the primary down = %d %s", got.status, got.body)
	}
	f := waitFailure(t, g)
	if f.grid != "osgrid" || f.host != "h1" || f.service != "login" || f.err == nil {
		t.Fatalf("failure reported = %+v", f)
	}
	if got := do(t, c, "GET", g.url+"get_grid_info", "", ""); got.status != http.StatusOK ||
		!strings.Contains(got.body, "<gridname>osgrid</gridname>") {
		t.Fatalf("get_grid_info with the primary down = %d %s", got.status, got.body)
	}
}

func TestPrimaryCriticalGoesToBackup(t *testing.T) {
	t.Parallel()
	g := newGrid(t, Config{})
	g.cat.health("h1", "login", catalog.HealthCritical)
	c := client(t)
	got := do(t, c, "POST", g.url, "", ada)
	if got.status != http.StatusOK || servedBy(got.body) != "backup" {
		t.Fatalf("login with the primary critical = %d %s", got.status, got.body)
	}
	// A host the catalogue says failed is skipped the same way.
	g.cat.health("h1", "login", catalog.HealthPassing)
	g.cat.Run(&catalog.SetHostStatus{Name: "h1", Status: catalog.HostFailed})
	if got := do(t, c, "POST", g.url, "", ada); servedBy(got.body) != "backup" {
		t.Fatalf("login with the primary's host failed = %d %s", got.status, got.body)
	}
}

func TestLastResortInstance(t *testing.T) {
	t.Parallel()
	g := newGrid(t, Config{})
	// The backup's check lags: it serves, but the catalogue says critical.
	g.cat.health("h2", "login", catalog.HealthCritical)
	g.primary.Close()
	c := client(t)
	got := do(t, c, "POST", g.url, "", ada)
	if got.status != http.StatusOK || servedBy(got.body) != "backup" {
		t.Fatalf("login through the last resort = %d %s", got.status, got.body)
	}
	// A fenced instance is never a last resort, whatever it would answer.
	g.cat.Run(&catalog.FenceHost{Name: "h2", Fenced: true})
	if got := do(t, c, "POST", g.url, "", ada); got.status != http.StatusBadGateway {
		t.Fatalf("login with only a fenced instance up = %d %s", got.status, got.body)
	}
}

// loginFailure is the part of the front's XML-RPC failure body a viewer
// reads.
type loginFailure struct {
	Members []struct {
		Name  string `xml:"name"`
		Value string `xml:"value>string"`
	} `xml:"params>param>value>struct>member"`
}

func checkUnavailable(t *testing.T, got answer) {
	t.Helper()
	if got.status != http.StatusBadGateway || !strings.HasPrefix(got.header.Get("Content-Type"), "text/xml") {
		t.Fatalf("answer = %d %s %s, want 502 text/xml", got.status, got.header.Get("Content-Type"), got.body)
	}
	var lf loginFailure
	if err := xml.Unmarshal([]byte(got.body), &lf); err != nil {
		t.Fatalf("failure body %q: %v", got.body, err)
	}
	m := map[string]string{}
	for _, mem := range lf.Members {
		m[mem.Name] = mem.Value
	}
	if m["login"] != "false" || m["reason"] != "presence" || !strings.Contains(m["message"], "osgrid is unavailable") {
		t.Fatalf("failure body members = %v", m)
	}
}

func TestAllDown(t *testing.T) {
	t.Parallel()
	g := newGrid(t, Config{})
	g.primary.Close()
	g.backup.Close()
	c := client(t)
	checkUnavailable(t, do(t, c, "POST", g.url, "", ada))
	if f := waitFailure(t, g); f.host != "h1" {
		t.Fatalf("failure reported = %+v", f)
	}
	// Nothing to try at all: both hosts failed.
	g.cat.Run(&catalog.SetHostStatus{Name: "h1", Status: catalog.HostFailed})
	g.cat.Run(&catalog.SetHostStatus{Name: "h2", Status: catalog.HostFailed})
	checkUnavailable(t, do(t, c, "POST", g.url, "", ada))
	if _, err := g.front.Route("osgrid"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Route with nothing alive = %v, want ErrUnavailable", err)
	}
}

func TestServerErrorFailsOver(t *testing.T) {
	t.Parallel()
	cat := newTestCatalog(t)
	var hits atomic.Int32
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "database gone", http.StatusServiceUnavailable)
	}))
	t.Cleanup(broken.Close)
	backup := startLogin(t, "osgrid", "backup")
	cat.register("h1", loginDef(t, "osgrid", broken.Listener.Addr().String(), true))
	cat.register("h2", loginDef(t, "osgrid", backup.Addr(), false))
	f := startFront(t, Config{}, cat)
	got := do(t, client(t), "POST", "http://"+f.Addr()+"/grid/osgrid/", "", ada)
	if got.status != http.StatusOK || servedBy(got.body) != "backup" || hits.Load() != 1 {
		t.Fatalf("login with the primary answering 503 = %d %s (primary hit %d times)", got.status, got.body, hits.Load())
	}
}

func TestTimeoutFailsOver(t *testing.T) {
	t.Parallel()
	// The primary accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	cat := newTestCatalog(t)
	backup := startLogin(t, "osgrid", "backup")
	cat.register("h1", loginDef(t, "osgrid", ln.Addr().String(), true))
	cat.register("h2", loginDef(t, "osgrid", backup.Addr(), false))
	f := startFront(t, Config{Timeout: 300 * time.Millisecond}, cat)
	got := do(t, client(t), "POST", "http://"+f.Addr()+"/grid/osgrid/", "", ada)
	if got.status != http.StatusOK || servedBy(got.body) != "backup" {
		t.Fatalf("login with the primary hanging = %d %s", got.status, got.body)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	g := newGrid(t, Config{MaxBody: 4 << 10})
	// A second service tagged login for grid "twice" next to "login".
	g.cat.register("h3",
		catalog.ServiceDef{Name: "login", Grid: "twice", Port: 1},
		catalog.ServiceDef{Name: "robust", Grid: "twice", Port: 2, Tags: []string{"login"}})
	c := client(t)
	base := "http://" + g.front.Addr()
	huge := "<methodCall>" + strings.Repeat("<x/>", 2<<10) + "</methodCall>"
	for _, tc := range []struct {
		name, method, url, body string
		status                  int
		allow                   string
		msg                     string
	}{
		{"malformed", "POST", g.url, "<methodCall><methodName>login_to_simulator</methodCall>", 400, "", "well-formed"},
		{"not xml", "POST", g.url, "first=Ada&last=Lovelace", 400, "", "well-formed"},
		{"two roots", "POST", g.url, "<a/><b/>", 400, "", "second root"},
		{"empty body", "POST", g.url, "", 400, "", "no root"},
		{"huge", "POST", g.url, huge, 413, "", "over the limit"},
		{"unknown grid", "POST", base + "/grid/nowhere/", ada, 404, "", `unknown grid \"nowhere\"`},
		{"no grid named", "POST", base + "/grid/", ada, 404, "", "no grid"},
		{"no grid at all", "POST", base + "/", ada, 404, "", "no grid"},
		{"ambiguous", "POST", base + "/grid/twice/", ada, 500, "", "login, robust"},
		{"GET login", "GET", g.url, "", 405, "POST", "not allowed"},
		{"PUT grid info", "PUT", g.url + "get_grid_info", "", 405, "GET, POST", "not allowed"},
		{"DELETE", "DELETE", g.url, "", 405, "POST", "not allowed"},
		{"OPTIONS", "OPTIONS", g.url, "", 405, "POST", "not allowed"},
	} {
		got := do(t, c, tc.method, tc.url, "", tc.body)
		if got.status != tc.status || !strings.Contains(got.body, tc.msg) || got.header.Get("Allow") != tc.allow {
			t.Errorf("%s: %d Allow=%q %s, want %d Allow=%q containing %q", tc.name, got.status,
				got.header.Get("Allow"), got.body, tc.status, tc.allow, tc.msg)
		}
		if tc.status != 405 && got.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: Content-Type %q", tc.name, got.header.Get("Content-Type"))
		}
	}

	// A huge body of unknown length is cut off at the limit too.
	req, _ := http.NewRequest("POST", g.url, io.MultiReader(strings.NewReader(huge)))
	req.ContentLength = -1
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked huge body = %d, want 413", resp.StatusCode)
	}
}

// evilServer counts every request that reaches it.
func evilServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "evil")
	}))
	t.Cleanup(s.Close)
	return s, &hits
}

// rawRequest sends a request line and headers as written and returns the
// status and body.
func rawRequest(t *testing.T, addr, head, body string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", head, len(body), body)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestNeverLeavesTheCatalogue(t *testing.T) {
	t.Parallel()
	g := newGrid(t, Config{Hosts: map[string]string{"login.osgrid.test": "osgrid"}})
	evil, hits := evilServer(t)
	evilHost := evil.Listener.Addr().String()
	c := client(t)
	front := g.front.Addr()

	// A URL in the path is only a path on the catalogue's instance.
	for _, path := range []string{"http://" + evilHost + "/", "http:%2F%2F" + evilHost + "/", "//" + evilHost + "/", "@" + evilHost + "/"} {
		got := do(t, c, "POST", g.url+path, "", ada)
		if strings.Contains(got.body, "evil") || got.header.Get("Location") != "" && strings.HasPrefix(got.header.Get("Location"), "http") {
			t.Errorf("path %s: %d %v %s", path, got.status, got.header, got.body)
		}
	}
	// Host headers name grids, never places to connect to.
	if got := do(t, c, "POST", "http://"+front+"/", evilHost, ada); got.status != http.StatusNotFound {
		t.Errorf("Host %s = %d %s, want 404", evilHost, got.status, got.body)
	}
	// Absolute-form request URIs are routed by their path or host only.
	if code, body := rawRequest(t, front, "POST http://"+evilHost+"/grid/osgrid/ HTTP/1.1\r\nHost: "+evilHost, ada); code != 200 || servedBy(body) != "primary" {
		t.Errorf("absolute-form to /grid/osgrid/ = %d %s", code, body)
	}
	if code, body := rawRequest(t, front, "POST http://"+evilHost+"/ HTTP/1.1\r\nHost: login.osgrid.test", ada); code != 404 {
		t.Errorf("absolute-form to another host = %d %s, want 404", code, body)
	}
	if code, body := rawRequest(t, front, "POST http://login.osgrid.test/ HTTP/1.1\r\nHost: "+evilHost, ada); code != 200 || servedBy(body) != "primary" {
		t.Errorf("absolute-form to the grid's host = %d %s", code, body)
	}
	if code, body := rawRequest(t, front, "CONNECT "+evilHost+" HTTP/1.1\r\nHost: "+evilHost, ""); code != 404 && code != 405 {
		t.Errorf("CONNECT = %d %s", code, body)
	}
	// A redirect from the instance is passed on, not followed.
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, evil.URL+"/", http.StatusFound)
	}))
	t.Cleanup(redirector.Close)
	g.cat.register("h3", loginDef(t, "redirecting", redirector.Listener.Addr().String(), true))
	got := do(t, c, "POST", "http://"+front+"/grid/redirecting/", "", ada)
	if got.status != http.StatusFound || got.header.Get("Location") != evil.URL+"/" {
		t.Errorf("redirecting instance = %d %v", got.status, got.header)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the front reached a server outside the catalogue %d times", n)
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	type seen struct {
		header http.Header
		uri    string
		host   string
		body   string
	}
	got := make(chan seen, 1)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Header.Clone(), r.RequestURI, r.Host, string(b)}
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "1")
		w.Header().Set("X-End", "2")
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "<methodResponse/>")
	}))
	t.Cleanup(echo.Close)
	cat := newTestCatalog(t)
	cat.register("h1", catalog.ServiceDef{Name: "robust", Grid: "tagged", Tags: []string{"login"},
		Port: portOf(t, echo.Listener.Addr().String()), Primary: true})
	f := startFront(t, Config{}, cat)

	body := `<?xml version="1.0" encoding="ISO-8859-1"?><methodCall><methodName>get_avatar_picks</methodName>` +
		"<params><param><value><string>caf\xe9</string></value></param></params></methodCall>\n"
	req, _ := http.NewRequest("POST", "http://"+f.Addr()+"/grid/tagged/xmlrpc/path?q=1%2F2", strings.NewReader(body))
	req.Header.Set("Content-Type", "text/xml")
	req.Header.Set("Connection", "X-Secret")
	req.Header.Set("X-Secret", "s")
	req.Header.Set("Proxy-Authorization", "Basic eDp5")
	req.Header.Set("X-Forwarded-For", "192.0.2.7")
	req.Header.Set("User-Agent", "Firestorm")
	resp, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	s := <-got

	if s.body != body || s.uri != "/xmlrpc/path?q=1%2F2" || s.host != f.Addr() {
		t.Errorf("upstream saw body %q uri %q host %q", s.body, s.uri, s.host)
	}
	for _, k := range []string{"X-Secret", "Proxy-Authorization", "Connection", "X-Idempotency-Key"} {
		if v, ok := s.header[k]; ok {
			t.Errorf("upstream saw %s: %q", k, v)
		}
	}
	if s.header.Get("User-Agent") != "Firestorm" || s.header.Get("X-Forwarded-For") != "192.0.2.7, 127.0.0.1" ||
		s.header.Get("Content-Type") != "text/xml" {
		t.Errorf("upstream headers = %v", s.header)
	}
	if resp.StatusCode != http.StatusAccepted || string(b) != "<methodResponse/>" || resp.Header.Get("X-End") != "2" ||
		resp.Header.Get("X-Hop") != "" {
		t.Errorf("client got %d %v %q", resp.StatusCode, resp.Header, b)
	}
}

func TestRoute(t *testing.T) {
	t.Parallel()
	g := newGrid(t, Config{})
	tg, err := g.front.Route("osgrid")
	want := Target{Grid: "osgrid", Service: "login", Host: "h1", Address: g.primary.Addr(), Primary: true, Epoch: 1, Healthy: true}
	if err != nil || tg != want {
		t.Fatalf("Route = %+v, %v; want %+v", tg, err, want)
	}
	g.cat.health("h1", "login", catalog.HealthCritical)
	tg, err = g.front.Route("osgrid")
	want = Target{Grid: "osgrid", Service: "login", Host: "h2", Address: g.backup.Addr(), Epoch: 1, Healthy: true}
	if err != nil || tg != want {
		t.Fatalf("Route with the primary critical = %+v, %v; want %+v", tg, err, want)
	}
	g.cat.health("h2", "login", catalog.HealthWarning)
	tg, err = g.front.Route("osgrid")
	want = Target{Grid: "osgrid", Service: "login", Host: "h2", Address: g.backup.Addr(), Epoch: 1}
	if err != nil || tg != want {
		t.Fatalf("Route with nothing healthy = %+v, %v; want %+v", tg, err, want)
	}
	if _, err := g.front.Route("nowhere"); !errors.Is(err, ErrUnknownGrid) {
		t.Fatalf("Route(nowhere) = %v", err)
	}
	g.cat.register("h3", catalog.ServiceDef{Name: "other", Grid: "osgrid", Port: 3, Tags: []string{"login"}})
	if _, err := g.front.Route("osgrid"); !errors.Is(err, ErrAmbiguousGrid) || !strings.Contains(err.Error(), "login, other") {
		t.Fatalf("Route with two login services = %v", err)
	}
}

// TestUpstreamKeepAlive checks that logins reuse connections to the
// instance rather than dialling for each.
func TestUpstreamKeepAlive(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "<methodResponse/>")
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	cat := newTestCatalog(t)
	cat.register("h1", loginDef(t, "osgrid", up.Listener.Addr().String(), true))
	f := startFront(t, Config{}, cat)
	c := client(t)
	for range 5 {
		if got := do(t, c, "POST", "http://"+f.Addr()+"/grid/osgrid/", "", ada); got.body != "<methodResponse/>" {
			t.Fatalf("login = %d %s", got.status, got.body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections to the instance for 5 sequential logins, want 1", n)
	}
}
