package dns

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/understudy/understudy/coordinator/internal/catalog"
)

// dnsCase is one query and the reply expected, in the style of CoreDNS's
// test.Case: records in presentation format, in order.
type dnsCase struct {
	name   string
	qname  string
	qtype  uint16
	rcode  int
	noAA   bool // the reply must not be authoritative (refusals)
	answer []string
	ns     []string
	extra  []string // without the OPT record
}

func (tc dnsCase) check(t *testing.T, q, m *mdns.Msg) {
	t.Helper()
	if m.Id != q.Id || !m.Response {
		t.Errorf("reply id %d response %v, want id %d response true", m.Id, m.Response, q.Id)
	}
	if m.Rcode != tc.rcode {
		t.Errorf("rcode %s, want %s", mdns.RcodeToString[m.Rcode], mdns.RcodeToString[tc.rcode])
	}
	if m.Authoritative == tc.noAA {
		t.Errorf("AA %v, want %v", m.Authoritative, !tc.noAA)
	}
	if m.RecursionAvailable {
		t.Error("RA set")
	}
	if len(m.Question) != 1 || m.Question[0] != q.Question[0] {
		t.Errorf("question %v, want %v as sent", m.Question, q.Question)
	}
	for _, sec := range []struct {
		name      string
		got, want []string
	}{
		{"answer", rrStrings(m.Answer), canonical(t, tc.answer)},
		{"authority", rrStrings(m.Ns), canonical(t, tc.ns)},
		{"additional", rrStrings(withoutOPT(m.Extra)), canonical(t, tc.extra)},
	} {
		if !slices.Equal(sec.got, sec.want) {
			t.Errorf("%s section:\n got %s\nwant %s", sec.name, strings.Join(sec.got, "\n     "), strings.Join(sec.want, "\n     "))
		}
	}
}

func TestAnswers(t *testing.T) {
	t.Parallel()
	cat := fixture(t)
	h := newTestHandler(t, testConfig(t), cat)
	soa := fmt.Sprintf("understudy. 3 IN SOA coord-1.ns.understudy. hostmaster.understudy. %d 3600 600 86400 3", cat.Index())
	const (
		login = "login.service.understudy."
		hostA = "host-a.node.understudy."
	)
	cases := []dnsCase{
		{name: "service A, primary first, only healthy", qname: login, qtype: mdns.TypeA,
			answer: []string{login + " 7 IN A 10.0.0.1", login + " 7 IN A 10.0.0.2"}},
		{name: "service AAAA", qname: login, qtype: mdns.TypeAAAA,
			answer: []string{login + " 7 IN AAAA fd00::3"}},
		{name: "service SRV with glue", qname: login, qtype: mdns.TypeSRV,
			answer: []string{
				login + " 7 IN SRV 0 1 8002 host-a.node.understudy.",
				login + " 7 IN SRV 1 1 8002 host-b.node.understudy.",
				login + " 7 IN SRV 1 1 8002 host-c.node.understudy.",
			},
			extra: []string{
				"host-a.node.understudy. 7 IN A 10.0.0.1",
				"host-b.node.understudy. 7 IN A 10.0.0.2",
				"host-c.node.understudy. 7 IN AAAA fd00::3",
			}},
		{name: "tag filter A", qname: "robust." + login, qtype: mdns.TypeA,
			answer: []string{"robust." + login + " 7 IN A 10.0.0.1"}},
		{name: "tag filter SRV", qname: "backup." + login, qtype: mdns.TypeSRV,
			answer: []string{"backup." + login + " 7 IN SRV 1 1 8002 host-b.node.understudy."},
			extra:  []string{"host-b.node.understudy. 7 IN A 10.0.0.2"}},
		{name: "RFC 2782 form, any tag", qname: "_login._tcp.service.understudy.", qtype: mdns.TypeSRV,
			answer: []string{
				"_login._tcp.service.understudy. 7 IN SRV 0 1 8002 host-a.node.understudy.",
				"_login._tcp.service.understudy. 7 IN SRV 1 1 8002 host-b.node.understudy.",
				"_login._tcp.service.understudy. 7 IN SRV 1 1 8002 host-c.node.understudy.",
			},
			extra: []string{
				"host-a.node.understudy. 7 IN A 10.0.0.1",
				"host-b.node.understudy. 7 IN A 10.0.0.2",
				"host-c.node.understudy. 7 IN AAAA fd00::3",
			}},
		{name: "RFC 2782 form with a tag", qname: "_login._backup.service.understudy.", qtype: mdns.TypeSRV,
			answer: []string{"_login._backup.service.understudy. 7 IN SRV 1 1 8002 host-b.node.understudy."},
			extra:  []string{"host-b.node.understudy. 7 IN A 10.0.0.2"}},
		{name: "RFC 2782 form, unknown service", qname: "_nosuch._tcp.service.understudy.", qtype: mdns.TypeSRV, rcode: mdns.RcodeNameError, ns: []string{soa}},
		{name: "tag nobody has is NODATA", qname: "nosuch." + login, qtype: mdns.TypeA, ns: []string{soa}},
		{name: "service TXT is NODATA", qname: login, qtype: mdns.TypeTXT, ns: []string{soa}},
		{name: "service with no healthy instance is NODATA", qname: "grid.service.understudy.", qtype: mdns.TypeA, ns: []string{soa}},
		{name: "no healthy instance SRV", qname: "grid.service.understudy.", qtype: mdns.TypeSRV, ns: []string{soa}},
		{name: "unknown service", qname: "nosuch.service.understudy.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: []string{soa}},
		{name: "unknown service SRV", qname: "nosuch.service.understudy.", qtype: mdns.TypeSRV, rcode: mdns.RcodeNameError, ns: []string{soa}},
		{name: "too deep below service", qname: "a.robust." + login, qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: []string{soa}},

		{name: "node A", qname: hostA, qtype: mdns.TypeA, answer: []string{hostA + " 7 IN A 10.0.0.1"}},
		{name: "node AAAA of IPv4 host is NODATA", qname: hostA, qtype: mdns.TypeAAAA, ns: []string{soa}},
		{name: "node AAAA", qname: "host-c.node.understudy.", qtype: mdns.TypeAAAA,
			answer: []string{"host-c.node.understudy. 7 IN AAAA fd00::3"}},
		{name: "failed node still resolves", qname: "host-d.node.understudy.", qtype: mdns.TypeA,
			answer: []string{"host-d.node.understudy. 7 IN A 10.0.0.4"}},
		{name: "unknown node", qname: "nosuch.node.understudy.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: []string{soa}},
		{name: "below a node", qname: "x." + hostA, qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: []string{soa}},

		{name: "apex SOA", qname: "understudy.", qtype: mdns.TypeSOA,
			answer: []string{strings.Replace(soa, "understudy. 3 IN", "understudy. 7 IN", 1)}},
		{name: "apex NS with glue", qname: "understudy.", qtype: mdns.TypeNS,
			answer: []string{"understudy. 7 IN NS coord-1.ns.understudy.", "understudy. 7 IN NS coord-2.ns.understudy."},
			extra:  []string{"coord-1.ns.understudy. 7 IN A 127.0.0.1", "coord-2.ns.understudy. 7 IN AAAA ::1"}},
		{name: "apex A is NODATA", qname: "understudy.", qtype: mdns.TypeA, ns: []string{soa}},
		{name: "apex MX is NODATA", qname: "understudy.", qtype: mdns.TypeMX, ns: []string{soa}},
		{name: "name server A", qname: "coord-1.ns.understudy.", qtype: mdns.TypeA,
			answer: []string{"coord-1.ns.understudy. 7 IN A 127.0.0.1"}},
		{name: "name server AAAA", qname: "coord-2.ns.understudy.", qtype: mdns.TypeAAAA,
			answer: []string{"coord-2.ns.understudy. 7 IN AAAA ::1"}},
		{name: "name server wrong family is NODATA", qname: "coord-2.ns.understudy.", qtype: mdns.TypeA, ns: []string{soa}},
		{name: "unknown name server", qname: "coord-9.ns.understudy.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: []string{soa}},

		{name: "service. is an empty non-terminal", qname: "service.understudy.", qtype: mdns.TypeA, ns: []string{soa}},
		{name: "node. is an empty non-terminal", qname: "node.understudy.", qtype: mdns.TypeA, ns: []string{soa}},
		{name: "ns. is an empty non-terminal", qname: "ns.understudy.", qtype: mdns.TypeA, ns: []string{soa}},
		{name: "unknown name under apex", qname: "www.understudy.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: []string{soa}},
		{name: "escaped label in zone", qname: `a\.b.service.understudy.`, qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: []string{soa}},

		{name: "ANY on a service is one HINFO", qname: login, qtype: mdns.TypeANY,
			answer: []string{login + ` 7 IN HINFO "RFC8482" ""`}},
		{name: "ANY at the apex", qname: "understudy.", qtype: mdns.TypeANY,
			answer: []string{`understudy. 7 IN HINFO "RFC8482" ""`}},
		{name: "ANY on an unknown name", qname: "nosuch.service.understudy.", qtype: mdns.TypeANY, rcode: mdns.RcodeNameError, ns: []string{soa}},

		{name: "case-insensitive, case kept", qname: "LoGiN.SeRvIcE.UnDeRsTuDy.", qtype: mdns.TypeA,
			answer: []string{"LoGiN.SeRvIcE.UnDeRsTuDy. 7 IN A 10.0.0.1", "LoGiN.SeRvIcE.UnDeRsTuDy. 7 IN A 10.0.0.2"}},
		{name: "case-insensitive SRV targets lower case", qname: "ROBUST.LOGIN.SERVICE.UNDERSTUDY.", qtype: mdns.TypeSRV,
			answer: []string{"ROBUST.LOGIN.SERVICE.UNDERSTUDY. 7 IN SRV 0 1 8002 host-a.node.understudy."},
			extra:  []string{"host-a.node.understudy. 7 IN A 10.0.0.1"}},

		{name: "out of zone", qname: "example.com.", qtype: mdns.TypeA, rcode: mdns.RcodeRefused, noAA: true},
		{name: "zone as a label prefix", qname: "understudy.com.", qtype: mdns.TypeA, rcode: mdns.RcodeRefused, noAA: true},
		{name: "zone as a name suffix", qname: "xunderstudy.", qtype: mdns.TypeA, rcode: mdns.RcodeRefused, noAA: true},
		{name: "escaped dot is not a zone cut", qname: `login\.understudy.`, qtype: mdns.TypeA, rcode: mdns.RcodeRefused, noAA: true},
		{name: "root", qname: ".", qtype: mdns.TypeNS, rcode: mdns.RcodeRefused, noAA: true},
		{name: "AXFR", qname: "understudy.", qtype: mdns.TypeAXFR, rcode: mdns.RcodeRefused, noAA: true},
		{name: "IXFR", qname: "understudy.", qtype: mdns.TypeIXFR, rcode: mdns.RcodeRefused, noAA: true},
	}
	for _, tc := range cases {
		for _, tcp := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/tcp=%v", tc.name, tcp), func(t *testing.T) {
				q := query(tc.qname, tc.qtype)
				tc.check(t, q, exchange(t, h, q, tcp))
			})
		}
	}
}

func TestClassOtherThanINIsRefused(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, testConfig(t), fixture(t))
	q := query("version.bind.", mdns.TypeTXT)
	q.Question[0].Qclass = mdns.ClassCHAOS
	dnsCase{rcode: mdns.RcodeRefused, noAA: true}.check(t, q, exchange(t, h, q, false))
	q = query("login.service.understudy.", mdns.TypeA)
	q.Question[0].Qclass = mdns.ClassCHAOS
	dnsCase{rcode: mdns.RcodeRefused, noAA: true}.check(t, q, exchange(t, h, q, false))
}

func TestOpcodesOtherThanQuery(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, testConfig(t), fixture(t))
	for _, op := range []int{mdns.OpcodeIQuery, mdns.OpcodeStatus, mdns.OpcodeNotify, mdns.OpcodeUpdate} {
		t.Run(mdns.OpcodeToString[op], func(t *testing.T) {
			q := query("understudy.", mdns.TypeSOA)
			q.Opcode = op
			m := exchange(t, h, q, false)
			if m.Rcode != mdns.RcodeNotImplemented || m.Opcode != op || m.Authoritative || len(m.Answer) != 0 {
				t.Errorf("reply rcode %s opcode %d AA %v answers %d, want NOTIMP, opcode %d, no AA, no answers",
					mdns.RcodeToString[m.Rcode], m.Opcode, m.Authoritative, len(m.Answer), op)
			}
		})
	}
}

func TestQuestionCount(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, testConfig(t), fixture(t))
	two := query("login.service.understudy.", mdns.TypeA)
	two.Question = append(two.Question, mdns.Question{Name: "understudy.", Qtype: mdns.TypeSOA, Qclass: mdns.ClassINET})
	none := query("login.service.understudy.", mdns.TypeA)
	none.Question = nil
	for name, q := range map[string]*mdns.Msg{"two": two, "none": none} {
		m := exchange(t, h, q, false)
		if m.Rcode != mdns.RcodeFormatError || len(m.Answer) != 0 || m.Id != q.Id {
			t.Errorf("%s questions: rcode %s answers %d id %d, want FORMERR, none, id %d",
				name, mdns.RcodeToString[m.Rcode], len(m.Answer), m.Id, q.Id)
		}
	}
}

func TestResponsesAreNotAnswered(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, testConfig(t), fixture(t))
	q := query("login.service.understudy.", mdns.TypeA)
	q.Response = true
	rec := newRecorder(udpClient)
	h.ServeDNS(rec, q)
	if len(rec.msgs) != 0 {
		t.Errorf("answered a response: %v", rec.msgs[0])
	}
}

func TestEDNS(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, testConfig(t), fixture(t))

	t.Run("OPT echoed with DO", func(t *testing.T) {
		q := query("login.service.understudy.", mdns.TypeA)
		q.SetEdns0(1232, true)
		m := exchange(t, h, q, false)
		opt := m.IsEdns0()
		if opt == nil {
			t.Fatal("no OPT in reply")
		}
		if opt.UDPSize() != maxUDPSize || !opt.Do() || opt.Version() != 0 {
			t.Errorf("OPT size %d DO %v version %d, want %d true 0", opt.UDPSize(), opt.Do(), opt.Version(), maxUDPSize)
		}
		if len(m.Answer) != 2 {
			t.Errorf("%d answers, want 2", len(m.Answer))
		}
	})
	t.Run("no OPT without EDNS", func(t *testing.T) {
		m := exchange(t, h, query("login.service.understudy.", mdns.TypeA), false)
		if m.IsEdns0() != nil {
			t.Error("OPT in reply to a query without one")
		}
	})
	t.Run("OPT kept on NXDOMAIN", func(t *testing.T) {
		q := query("nosuch.service.understudy.", mdns.TypeA)
		q.SetEdns0(4096, false)
		m := exchange(t, h, q, false)
		if m.Rcode != mdns.RcodeNameError || m.IsEdns0() == nil || len(m.Ns) != 1 {
			t.Errorf("rcode %s OPT %v authority %d, want NXDOMAIN with OPT and SOA", mdns.RcodeToString[m.Rcode], m.IsEdns0(), len(m.Ns))
		}
	})
	t.Run("version 1 is BADVERS", func(t *testing.T) {
		q := query("login.service.understudy.", mdns.TypeA)
		q.SetEdns0(4096, false)
		q.IsEdns0().SetVersion(1)
		m := exchange(t, h, q, false)
		if m.Rcode != mdns.RcodeBadVers || m.IsEdns0() == nil || len(m.Answer) != 0 {
			t.Errorf("rcode %d OPT %v answers %d, want BADVERS (16) with OPT and no answer", m.Rcode, m.IsEdns0(), len(m.Answer))
		}
	})
	t.Run("two OPT records are FORMERR", func(t *testing.T) {
		q := query("login.service.understudy.", mdns.TypeA)
		q.SetEdns0(4096, false)
		q.SetEdns0(4096, false)
		m := exchange(t, h, q, false)
		if m.Rcode != mdns.RcodeFormatError {
			t.Errorf("rcode %s, want FORMERR", mdns.RcodeToString[m.Rcode])
		}
	})
}

// bigCatalog registers service "big" on n hosts 10.1.x.y, host-000 primary.
func bigCatalog(t testing.TB, n int) *testCatalog {
	c := newTestCatalog(t)
	for i := range n {
		c.host(fmt.Sprintf("host-%03d", i), fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), catalog.RoleStandby,
			catalog.ServiceDef{Name: "big", Port: 9000 + i, Primary: i == 0})
	}
	return c
}

func TestTruncation(t *testing.T) {
	t.Parallel()
	const n = 100
	h := newTestHandler(t, testConfig(t), bigCatalog(t, n))
	const big = "big.service.understudy."

	size := func(t *testing.T, q *mdns.Msg, tcp bool) (*mdns.Msg, int) {
		t.Helper()
		rec := newRecorder(udpClient)
		if tcp {
			rec.remote = tcpClient
		}
		h.ServeDNS(rec, q)
		m := rec.only(t)
		return m, len(rec.wire[0])
	}
	for _, tc := range []struct {
		name   string
		qtype  uint16
		edns   uint16 // 0: no EDNS
		tcp    bool
		limit  int
		tc     bool
		answer int // -1: some but not all
		extra  int // glue records expected, -1: any
	}{
		{name: "A over UDP without EDNS", qtype: mdns.TypeA, limit: 512, tc: true, answer: -1},
		{name: "A with a 1232 buffer", qtype: mdns.TypeA, edns: 1232, limit: 1232, tc: true, answer: -1},
		{name: "A with a 4096 buffer fits", qtype: mdns.TypeA, edns: 4096, limit: 4096, answer: n},
		{name: "buffer below 512 counts as 512", qtype: mdns.TypeA, edns: 100, limit: 512, tc: true, answer: -1},
		{name: "buffer above 4096 is capped", qtype: mdns.TypeSRV, edns: 65000, limit: 4096, tc: true, answer: -1},
		{name: "A over TCP", qtype: mdns.TypeA, tcp: true, limit: mdns.MaxMsgSize, answer: n},
		{name: "SRV over TCP with glue", qtype: mdns.TypeSRV, tcp: true, limit: mdns.MaxMsgSize, answer: n, extra: n},
		{name: "SRV over UDP", qtype: mdns.TypeSRV, limit: 512, tc: true, answer: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := query(big, tc.qtype)
			if tc.edns != 0 {
				q.SetEdns0(tc.edns, false)
			}
			m, l := size(t, q, tc.tcp)
			if l > tc.limit {
				t.Errorf("reply is %d bytes, limit %d", l, tc.limit)
			}
			if m.Truncated != tc.tc {
				t.Errorf("TC %v, want %v", m.Truncated, tc.tc)
			}
			switch {
			case tc.answer >= 0 && len(m.Answer) != tc.answer:
				t.Errorf("%d answers, want %d", len(m.Answer), tc.answer)
			case tc.answer < 0 && (len(m.Answer) == 0 || len(m.Answer) >= n):
				t.Errorf("%d answers, want some but fewer than %d", len(m.Answer), n)
			}
			if tc.extra >= 0 && len(withoutOPT(m.Extra)) != tc.extra {
				t.Errorf("%d glue records, want %d", len(withoutOPT(m.Extra)), tc.extra)
			}
			if tc.edns != 0 && m.IsEdns0() == nil {
				t.Error("OPT lost in truncation")
			}
			if len(m.Answer) > 0 {
				if srv, ok := m.Answer[0].(*mdns.SRV); ok && (srv.Priority != 0 || srv.Target != "host-000.node.understudy.") {
					t.Errorf("first SRV %v, want the primary host-000 with priority 0", srv)
				}
				if a, ok := m.Answer[0].(*mdns.A); ok && a.A.String() != "10.1.0.1" {
					t.Errorf("first A %v, want the primary 10.1.0.1", a)
				}
			}
		})
	}
}

// TestGlueDroppedWithoutTC: when the SRV records fit but their glue does
// not, the glue goes and TC stays clear, so clients do not retry over TCP
// for data they can look up themselves.
func TestGlueDroppedWithoutTC(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, testConfig(t), bigCatalog(t, 8))
	q := query("big.service.understudy.", mdns.TypeSRV)
	m := exchange(t, h, q, false)
	if m.Truncated || len(m.Answer) != 8 || len(m.Extra) != 0 {
		t.Errorf("TC %v, %d answers, %d extra; want no TC, 8 answers, no glue", m.Truncated, len(m.Answer), len(m.Extra))
	}
	q.SetEdns0(4096, false)
	rec := newRecorder(udpClient)
	h.ServeDNS(rec, q)
	m = rec.only(t)
	if len(rec.wire[0]) <= 512 {
		t.Fatalf("answer with glue is %d bytes: the case needs more than 512", len(rec.wire[0]))
	}
	if m.Truncated || len(m.Answer) != 8 || len(withoutOPT(m.Extra)) != 8 {
		t.Errorf("with EDNS: TC %v, %d answers, %d glue; want all of it", m.Truncated, len(m.Answer), len(withoutOPT(m.Extra)))
	}
}

func TestMaxStale(t *testing.T) {
	t.Parallel()
	cat := fixture(t)
	for _, tc := range []struct {
		name      string
		maxStale  time.Duration
		staleness time.Duration
		rcode     int
	}{
		{"connected", 10 * time.Second, 0, mdns.RcodeSuccess},
		{"cut off within max_stale", 10 * time.Second, 9 * time.Second, mdns.RcodeSuccess},
		{"cut off beyond max_stale", 10 * time.Second, 11 * time.Second, mdns.RcodeServerFailure},
		{"no max_stale keeps answering", 0, 24 * time.Hour, mdns.RcodeSuccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.MaxStale = tc.maxStale
			cfg.Staleness = func() time.Duration { return tc.staleness }
			h := newTestHandler(t, cfg, cat)
			for _, name := range []string{"login.service.understudy.", "understudy."} {
				m := exchange(t, h, query(name, mdns.TypeA), false)
				if m.Rcode != tc.rcode {
					t.Errorf("%s: rcode %s, want %s", name, mdns.RcodeToString[m.Rcode], mdns.RcodeToString[tc.rcode])
				}
				if tc.rcode == mdns.RcodeServerFailure && (m.Authoritative || len(m.Answer) != 0) {
					t.Errorf("%s: SERVFAIL with AA %v and %d answers", name, m.Authoritative, len(m.Answer))
				}
			}
			// Out of zone is refused whatever the staleness.
			if m := exchange(t, h, query("example.com.", mdns.TypeA), false); m.Rcode != mdns.RcodeRefused {
				t.Errorf("out of zone: rcode %s, want REFUSED", mdns.RcodeToString[m.Rcode])
			}
		})
	}
}

// TestFollowsCatalogue: answers change as commands are applied, and the
// SOA serial follows the Raft index.
func TestFollowsCatalogue(t *testing.T) {
	t.Parallel()
	cat := fixture(t)
	h := newTestHandler(t, testConfig(t), cat)
	addrs := func() []string {
		m := exchange(t, h, query("login.service.understudy.", mdns.TypeA), false)
		var out []string
		for _, rr := range m.Answer {
			out = append(out, rr.(*mdns.A).A.String())
		}
		return out
	}
	serial := func() uint32 {
		return exchange(t, h, query("understudy.", mdns.TypeSOA), false).Answer[0].(*mdns.SOA).Serial
	}
	if got := addrs(); !slices.Equal(got, []string{"10.0.0.1", "10.0.0.2"}) {
		t.Fatalf("before: %v", got)
	}
	before := serial()

	cat.Run(&catalog.SetHealth{Host: "host-a", Service: "login", Health: catalog.HealthCritical})
	if got := addrs(); !slices.Equal(got, []string{"10.0.0.2"}) {
		t.Errorf("primary critical: %v, want [10.0.0.2]", got)
	}
	if s := serial(); s != before+1 || s != uint32(cat.Index()) {
		t.Errorf("serial %d, want %d (index %d)", s, before+1, cat.Index())
	}

	cat.Run(&catalog.SetHealth{Host: "host-b", Service: "login", Health: catalog.HealthWarning})
	if got := addrs(); len(got) != 0 {
		t.Errorf("warning is not passing and must not be served: %v, want none", got)
	}

	cat.Run(&catalog.SetHostStatus{Name: "host-b", Status: catalog.HostFailed, At: 3})
	m := exchange(t, h, query("login.service.understudy.", mdns.TypeA), false)
	if m.Rcode != mdns.RcodeSuccess || len(m.Answer) != 0 || len(m.Ns) != 1 {
		t.Errorf("nothing healthy: rcode %s, %d answers, %d authority; want NODATA with SOA",
			mdns.RcodeToString[m.Rcode], len(m.Answer), len(m.Ns))
	}

	cat.Run(&catalog.SetHealth{Host: "host-a", Service: "login", Health: catalog.HealthPassing})
	if got := addrs(); !slices.Equal(got, []string{"10.0.0.1"}) {
		t.Errorf("primary back: %v, want [10.0.0.1]", got)
	}
}

func TestDuplicateAddressesCollapse(t *testing.T) {
	t.Parallel()
	c := newTestCatalog(t)
	c.host("a", "10.0.0.9", catalog.RoleActive, catalog.ServiceDef{Name: "x", Port: 1, Primary: true})
	c.host("b", "10.0.0.9", catalog.RoleStandby, catalog.ServiceDef{Name: "x", Port: 2})
	c.host("bad", "not-an-ip", catalog.RoleStandby, catalog.ServiceDef{Name: "x", Port: 3})
	h := newTestHandler(t, testConfig(t), c)
	m := exchange(t, h, query("x.service.understudy.", mdns.TypeA), false)
	if len(m.Answer) != 1 {
		t.Errorf("A answers %v, want one 10.0.0.9", m.Answer)
	}
	m = exchange(t, h, query("x.service.understudy.", mdns.TypeSRV), false)
	if len(m.Answer) != 3 || len(m.Extra) != 2 {
		t.Errorf("SRV: %d answers, %d glue; want 3 (one per instance) and 2 (no glue for a bad address)", len(m.Answer), len(m.Extra))
	}
}

func TestNoNameServers(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.NameServers = nil
	cat := fixture(t)
	h := newTestHandler(t, cfg, cat)
	soa := fmt.Sprintf("understudy. 3 IN SOA understudy. hostmaster.understudy. %d 3600 600 86400 3", cat.Index())
	for _, tc := range []dnsCase{
		{qname: "understudy.", qtype: mdns.TypeNS, ns: []string{soa}},
		{qname: "coord-1.ns.understudy.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: []string{soa}},
	} {
		q := query(tc.qname, tc.qtype)
		tc.check(t, q, exchange(t, h, q, false))
	}
}

func TestOtherZone(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Zone = "Grid.Example.NET" // no trailing dot, mixed case
	h := newTestHandler(t, cfg, fixture(t))
	if h.Zone() != "grid.example.net." {
		t.Errorf("zone %q, want grid.example.net.", h.Zone())
	}
	q := query("login.service.grid.example.net.", mdns.TypeA)
	m := exchange(t, h, q, false)
	if m.Rcode != mdns.RcodeSuccess || len(m.Answer) != 2 {
		t.Errorf("rcode %s, %d answers; want 2", mdns.RcodeToString[m.Rcode], len(m.Answer))
	}
	q = query("login.service.understudy.", mdns.TypeA)
	if m := exchange(t, h, q, false); m.Rcode != mdns.RcodeRefused {
		t.Errorf("default zone in another zone's server: rcode %s, want REFUSED", mdns.RcodeToString[m.Rcode])
	}
}
