package login

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/understudy/understudy/coordinator/internal/catalog"
	"github.com/understudy/understudy/coordinator/internal/catalog/catalogtest"
	"github.com/understudy/understudy/test/gridlogin"
)

// testCatalog is a real catalogue filled through Apply, as Raft would.
type testCatalog struct{ *catalogtest.Catalog }

func newTestCatalog(t testing.TB) *testCatalog { return &testCatalog{catalogtest.New(t)} }

// register puts a host on 127.0.0.1 into the catalogue with its services.
func (c *testCatalog) register(host string, svcs ...catalog.ServiceDef) {
	c.T.Helper()
	c.Run(&catalog.RegisterServices{Host: host, Services: svcs,
		Upsert: &catalog.UpsertHost{Name: host, Address: "127.0.0.1", Role: catalog.RoleActive}})
}

func (c *testCatalog) health(host, service string, h catalog.Health) {
	c.T.Helper()
	c.Run(&catalog.SetHealth{Host: host, Service: service, Health: h})
}

// loginDef is grid's login service on addr's port.
func loginDef(t testing.TB, grid, addr string, primary bool) catalog.ServiceDef {
	t.Helper()
	return catalog.ServiceDef{Name: "login", Grid: grid, Port: portOf(t, addr), Primary: primary}
}

func portOf(t testing.TB, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// testLogger sends log lines to t.Log, so they show only on failure.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// startLogin runs a stand-in login service for grid with one account,
// Ada Lovelace / secret, until the test ends.
func startLogin(t testing.TB, grid, instance string) *gridlogin.Server {
	t.Helper()
	dir := t.TempDir()
	if err := gridlogin.AddAccount(dir, "Ada", "Lovelace", "secret"); err != nil {
		t.Fatal(err)
	}
	s, err := gridlogin.New(gridlogin.Config{Grid: grid, Instance: instance, DataDir: dir, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(context.Background())
	}()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	return s
}

// startFront runs a front on 127.0.0.1:0 until the test ends.
func startFront(t testing.TB, cfg Config, view View) *Front {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	cfg.Logger = testLogger(t)
	f, err := New(cfg, view)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return f
}

// failure is one call of Config.OnUpstreamFailure.
type failure struct {
	grid, host, service string
	err                 error
}

// grid is a catalogue with grid "osgrid" served by two stand-in login
// services, "primary" on host h1 and "backup" on h2, behind a front.
type grid struct {
	cat      *testCatalog
	primary  *gridlogin.Server
	backup   *gridlogin.Server
	front    *Front
	url      string // the front's /grid/osgrid/ login URI
	failures chan failure
}

func newGrid(t testing.TB, cfg Config) *grid {
	t.Helper()
	g := &grid{cat: newTestCatalog(t), failures: make(chan failure, 16)}
	g.primary = startLogin(t, "osgrid", "primary")
	g.backup = startLogin(t, "osgrid", "backup")
	g.cat.register("h1", loginDef(t, "osgrid", g.primary.Addr(), true))
	g.cat.register("h2", loginDef(t, "osgrid", g.backup.Addr(), false))
	cfg.OnUpstreamFailure = func(grid, host, service string, err error) {
		select {
		case g.failures <- failure{grid, host, service, err}:
		default:
		}
	}
	g.front = startFront(t, cfg, g.cat)
	g.url = "http://" + g.front.Addr() + "/grid/osgrid/"
	return g
}

// client never follows redirects and uses no proxy.
func client(t testing.TB) *http.Client {
	tr := &http.Transport{Proxy: nil, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// answer is a response read whole.
type answer struct {
	status int
	header http.Header
	body   string
}

// do sends a request with an optional Host header override.
func do(t testing.TB, c *http.Client, method, url, host, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/xml")
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

var servedByRE = regexp.MustCompile(`<name>served_by</name><value><string>([^<]*)</string>`)

// servedBy returns the instance a stand-in login answer names, or "".
func servedBy(body string) string {
	if m := servedByRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// loggedIn reports whether a login answer is a successful login.
func loggedIn(body string) bool {
	return strings.Contains(body, "<name>login</name><value><string>true</string>")
}

var ada = gridlogin.LoginRequest("Ada", "Lovelace", "secret")
