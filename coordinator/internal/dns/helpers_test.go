package dns

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/understudy/understudy/coordinator/internal/catalog"
	"github.com/understudy/understudy/coordinator/internal/catalog/catalogtest"
)

// testCatalog is a real catalogue filled through Apply, as Raft would.
type testCatalog struct{ *catalogtest.Catalog }

func newTestCatalog(t testing.TB) *testCatalog { return &testCatalog{catalogtest.New(t)} }

func (c *testCatalog) host(name, addr string, role catalog.Role, svcs ...catalog.ServiceDef) {
	c.T.Helper()
	c.Run(&catalog.UpsertHost{Name: name, Region: "eu-west", Role: role, Address: addr, At: 1})
	if len(svcs) > 0 {
		c.Run(&catalog.RegisterServices{Host: name, Services: svcs})
	}
}

// fixture builds the catalogue the table tests answer from:
//
//	login: host-a (primary, 10.0.0.1, tag robust), host-b (10.0.0.2, tag
//	       backup), host-c (fd00::3), host-d (10.0.0.4, host failed)
//	grid:  host-e (10.0.0.5, check critical) — exists, nothing healthy
func fixture(t testing.TB) *testCatalog {
	c := newTestCatalog(t)
	login := func(primary bool, tags ...string) catalog.ServiceDef {
		return catalog.ServiceDef{Name: "login", Grid: "osgrid", Port: 8002, Primary: primary, Tags: tags}
	}
	c.host("host-a", "10.0.0.1", catalog.RoleActive, login(true, "robust"))
	c.host("host-b", "10.0.0.2", catalog.RoleStandby, login(false, "backup"))
	c.host("host-c", "fd00::3", catalog.RoleStandby, login(false))
	c.host("host-d", "10.0.0.4", catalog.RoleStandby, login(false))
	c.Run(&catalog.SetHostStatus{Name: "host-d", Status: catalog.HostFailed, At: 2})
	c.host("host-e", "10.0.0.5", catalog.RoleActive, catalog.ServiceDef{Name: "grid", Port: 8003, Primary: true})
	c.Run(&catalog.SetHealth{Host: "host-e", Service: "grid", Health: catalog.HealthCritical})
	return c
}

var testNameServers = []NameServer{
	{Name: "coord-1", Addr: netip.MustParseAddr("127.0.0.1")},
	{Name: "coord-2", Addr: netip.MustParseAddr("::1")},
}

// testConfig uses different positive and negative TTLs so that tests can
// tell them apart.
func testConfig(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.TTL = 7 * time.Second
	cfg.NegativeTTL = 3 * time.Second
	cfg.Addr = "127.0.0.1:0"
	cfg.NameServers = func() []NameServer { return testNameServers }
	cfg.Logger = testLogger(t)
	return cfg
}

func newTestHandler(t testing.TB, cfg Config, view View) *Handler {
	t.Helper()
	h, err := NewHandler(cfg, view)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// testLogger sends logs to t.Log, so they show only when a test fails.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// recorder is a ResponseWriter that keeps what the handler wrote, after a
// round trip through the wire format, as a client would see it.
type recorder struct {
	remote net.Addr
	wire   [][]byte
	msgs   []*mdns.Msg
	err    error // the first pack or unpack error
}

var (
	udpClient = &net.UDPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 5353}
	tcpClient = &net.TCPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 5353}
)

func newRecorder(remote net.Addr) *recorder { return &recorder{remote: remote} }

func (r *recorder) LocalAddr() net.Addr  { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (r *recorder) RemoteAddr() net.Addr { return r.remote }
func (r *recorder) WriteMsg(m *mdns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		if r.err == nil {
			r.err = fmt.Errorf("pack reply: %w", err)
		}
		return err
	}
	_, err = r.Write(b)
	return err
}
func (r *recorder) Write(b []byte) (int, error) {
	m := new(mdns.Msg)
	if err := m.Unpack(b); err != nil {
		if r.err == nil {
			r.err = fmt.Errorf("unpack reply: %w", err)
		}
		return 0, err
	}
	r.wire = append(r.wire, append([]byte(nil), b...))
	r.msgs = append(r.msgs, m)
	return len(b), nil
}
func (r *recorder) Close() error        { return nil }
func (r *recorder) TsigStatus() error   { return nil }
func (r *recorder) TsigTimersOnly(bool) {}
func (r *recorder) Hijack()             {}

// only returns the single reply recorded, failing the test otherwise.
func (r *recorder) only(t testing.TB) *mdns.Msg {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.msgs) != 1 {
		t.Fatalf("got %d replies, want 1", len(r.msgs))
	}
	return r.msgs[0]
}

// exchange sends q to h as if from a UDP (or TCP) client and returns the
// reply.
func exchange(t testing.TB, h *Handler, q *mdns.Msg, tcp bool) *mdns.Msg {
	t.Helper()
	rec := newRecorder(udpClient)
	if tcp {
		rec.remote = tcpClient
	}
	h.ServeDNS(rec, q)
	return rec.only(t)
}

func query(name string, qtype uint16) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	return m
}

// rrStrings renders records in presentation format, one per element.
func rrStrings(rrs []mdns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, rr.String())
	}
	return out
}

// canonical parses and re-renders expected records so that spacing in the
// tables does not matter.
func canonical(t testing.TB, rrs []string) []string {
	t.Helper()
	out := make([]string, 0, len(rrs))
	for _, s := range rrs {
		rr, err := mdns.NewRR(s)
		if err != nil {
			t.Fatalf("bad expected record %q: %v", s, err)
		}
		out = append(out, rr.String())
	}
	return out
}

// withoutOPT drops the OPT record, which the tables do not list.
func withoutOPT(rrs []mdns.RR) []mdns.RR {
	var out []mdns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype != mdns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}
