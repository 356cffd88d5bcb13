package dns

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// startServer runs a Server on 127.0.0.1:0 until the test ends, and checks
// that Run then returns nil.
func startServer(t *testing.T, cfg Config, view View) *Server {
	t.Helper()
	s, err := New(cfg, view)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v, want nil after cancel", err)
		}
	})
	return s
}

func clientExchange(t *testing.T, network, addr string, q *mdns.Msg) *mdns.Msg {
	t.Helper()
	c := &mdns.Client{Net: network, Timeout: 5 * time.Second, UDPSize: 65535}
	m, _, err := c.Exchange(q, addr)
	if err != nil {
		t.Fatalf("%s exchange %s %s: %v", network, q.Question[0].Name, mdns.TypeToString[q.Question[0].Qtype], err)
	}
	return m
}

// rawExchange sends one raw packet over UDP and returns the raw reply.
func rawExchange(t *testing.T, addr string, packet []byte) []byte {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(packet); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	return buf[:n]
}

func sections(m *mdns.Msg) string {
	return strings.Join([]string{
		mdns.RcodeToString[m.Rcode],
		strconv.FormatBool(m.Authoritative),
		strings.Join(rrStrings(m.Answer), "|"),
		strings.Join(rrStrings(m.Ns), "|"),
		strings.Join(rrStrings(withoutOPT(m.Extra)), "|"),
	}, "\n")
}

// TestServerUDPAndTCPAgree asks a running server the same questions over
// UDP and TCP and expects the same answers as the handler gives directly.
func TestServerUDPAndTCPAgree(t *testing.T) {
	t.Parallel()
	cat := fixture(t)
	s := startServer(t, testConfig(t), cat)
	for _, q := range []struct {
		name  string
		qtype uint16
		rcode int
	}{
		{"login.service.understudy.", mdns.TypeA, mdns.RcodeSuccess},
		{"login.service.understudy.", mdns.TypeAAAA, mdns.RcodeSuccess},
		{"login.service.understudy.", mdns.TypeSRV, mdns.RcodeSuccess},
		{"robust.login.service.understudy.", mdns.TypeSRV, mdns.RcodeSuccess},
		{"grid.service.understudy.", mdns.TypeA, mdns.RcodeSuccess},
		{"host-a.node.understudy.", mdns.TypeA, mdns.RcodeSuccess},
		{"understudy.", mdns.TypeSOA, mdns.RcodeSuccess},
		{"understudy.", mdns.TypeNS, mdns.RcodeSuccess},
		{"coord-1.ns.understudy.", mdns.TypeA, mdns.RcodeSuccess},
		{"login.service.understudy.", mdns.TypeANY, mdns.RcodeSuccess},
		{"nosuch.service.understudy.", mdns.TypeA, mdns.RcodeNameError},
		{"example.com.", mdns.TypeA, mdns.RcodeRefused},
		{"understudy.", mdns.TypeAXFR, mdns.RcodeRefused},
		{"understudy.", mdns.TypeIXFR, mdns.RcodeRefused},
	} {
		t.Run(q.name+"/"+mdns.TypeToString[q.qtype], func(t *testing.T) {
			msg := query(q.name, q.qtype)
			msg.SetEdns0(4096, false)
			udp := clientExchange(t, "udp", s.Addr(), msg)
			tcp := clientExchange(t, "tcp", s.Addr(), msg)
			direct := exchange(t, s.Handler(), msg, false)
			if udp.Rcode != q.rcode {
				t.Errorf("rcode %s, want %s", mdns.RcodeToString[udp.Rcode], mdns.RcodeToString[q.rcode])
			}
			if got, want := sections(udp), sections(tcp); got != want {
				t.Errorf("UDP and TCP differ:\nudp %s\ntcp %s", got, want)
			}
			if got, want := sections(udp), sections(direct); got != want {
				t.Errorf("server and handler differ:\nserver  %s\nhandler %s", got, want)
			}
			if udp.Id != msg.Id || udp.RecursionAvailable {
				t.Errorf("id %d RA %v, want id %d and no RA", udp.Id, udp.RecursionAvailable, msg.Id)
			}
		})
	}
}

// TestServerTruncationAndTCPFallback: with 100 instances the answer does
// not fit in 512 bytes; the UDP reply is cut to the client's buffer with TC
// set and the same query over TCP gets everything.
func TestServerTruncationAndTCPFallback(t *testing.T) {
	t.Parallel()
	const n = 100
	s := startServer(t, testConfig(t), bigCatalog(t, n))
	for _, tc := range []struct {
		name   string
		qtype  uint16
		edns   uint16
		limit  int
		tc     bool
		answer int // 0: fewer than n
	}{
		{"A without EDNS", mdns.TypeA, 0, 512, true, 0},
		{"A with a 1232 buffer", mdns.TypeA, 1232, 1232, true, 0},
		{"A with a 4096 buffer", mdns.TypeA, 4096, 4096, false, n},
		{"SRV with a 4096 buffer", mdns.TypeSRV, 4096, 4096, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := query("big.service.understudy.", tc.qtype)
			if tc.edns != 0 {
				q.SetEdns0(tc.edns, false)
			}
			packet, err := q.Pack()
			if err != nil {
				t.Fatal(err)
			}
			raw := rawExchange(t, s.Addr(), packet)
			if len(raw) > tc.limit {
				t.Errorf("UDP reply %d bytes, buffer %d", len(raw), tc.limit)
			}
			m := new(mdns.Msg)
			if err := m.Unpack(raw); err != nil {
				t.Fatal(err)
			}
			if m.Truncated != tc.tc {
				t.Errorf("TC %v, want %v", m.Truncated, tc.tc)
			}
			if tc.answer != 0 && len(m.Answer) != tc.answer || tc.answer == 0 && len(m.Answer) >= n {
				t.Errorf("%d answers over UDP", len(m.Answer))
			}
			if !m.Truncated {
				return
			}
			full := clientExchange(t, "tcp", s.Addr(), q)
			if full.Truncated || len(full.Answer) != n {
				t.Errorf("over TCP: TC %v, %d answers; want %d", full.Truncated, len(full.Answer), n)
			}
			if !slices.Equal(rrStrings(m.Answer), rrStrings(full.Answer[:len(m.Answer)])) {
				t.Error("the truncated UDP answer is not a prefix of the TCP answer")
			}
		})
	}
}

// TestServerEarlyRejects covers what the server refuses before the handler
// sees the packet: other opcodes, question counts and unparsable bodies.
func TestServerEarlyRejects(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t), fixture(t))
	pack := func(m *mdns.Msg) []byte {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	notify := query("understudy.", mdns.TypeSOA)
	notify.Opcode = mdns.OpcodeNotify
	update := query("understudy.", mdns.TypeSOA)
	update.Opcode = mdns.OpcodeUpdate
	update.Ns = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: "x.understudy.", Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 1}, A: net.IPv4(1, 2, 3, 4)}}
	two := query("understudy.", mdns.TypeSOA)
	two.Question = append(two.Question, two.Question[0])
	garbage := pack(query("login.service.understudy.", mdns.TypeA))
	garbage = append(garbage[:14], 0xff, 0xff, 0xff) // header fine, question cut

	for _, tc := range []struct {
		name   string
		packet []byte
		rcode  int
	}{
		{"NOTIFY", pack(notify), mdns.RcodeNotImplemented},
		{"UPDATE", pack(update), mdns.RcodeNotImplemented},
		{"two questions", pack(two), mdns.RcodeFormatError},
		{"unparsable question", garbage, mdns.RcodeFormatError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := new(mdns.Msg)
			if err := m.Unpack(rawExchange(t, s.Addr(), tc.packet)); err != nil {
				t.Fatal(err)
			}
			if m.Rcode != tc.rcode || !m.Response || len(m.Answer) != 0 {
				t.Errorf("rcode %s response %v answers %d, want %s", mdns.RcodeToString[m.Rcode], m.Response, len(m.Answer), mdns.RcodeToString[tc.rcode])
			}
		})
	}
	// Still serving after all that, including a runt packet.
	conn, err := net.Dial("udp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if m := clientExchange(t, "udp", s.Addr(), query("login.service.understudy.", mdns.TypeA)); len(m.Answer) != 2 {
		t.Errorf("after bad packets: %d answers, want 2", len(m.Answer))
	}
}

func TestServerLifecycle(t *testing.T) {
	t.Parallel()
	s, err := New(testConfig(t), fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	if _, port, _ := net.SplitHostPort(addr); port == "0" {
		t.Fatalf("Addr() = %s before Run, want the bound port", addr)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	if m := clientExchange(t, "tcp", addr, query("understudy.", mdns.TypeSOA)); len(m.Answer) != 1 {
		t.Fatalf("SOA over TCP: %v", m)
	}
	if err := s.Run(ctx); !errors.Is(err, ErrServerRun) {
		t.Errorf("second Run() = %v, want ErrServerRun", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v after cancel, want nil", err)
	}
	// Both sockets are released: the port can be bound again.
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Errorf("UDP port still held after Run: %v", err)
	} else {
		pc.Close()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Errorf("TCP port still held after Run: %v", err)
	} else {
		ln.Close()
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after Run = %v", err)
	}
}

func TestServerCloseWithoutRun(t *testing.T) {
	t.Parallel()
	s, err := New(testConfig(t), fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	if err := s.Run(t.Context()); !errors.Is(err, ErrServerRun) {
		t.Errorf("Run after Close = %v, want ErrServerRun", err)
	}
}

func TestServerTCPPortTaken(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig(t)
	cfg.Addr = ln.Addr().String()
	s, err := New(cfg, fixture(t))
	if err == nil {
		s.Close()
		t.Fatal("New succeeded on a TCP port in use")
	}
	if strings.Contains(err.Error(), "listen udp") {
		t.Skipf("the UDP port happened to be taken too: %v", err)
	}
	if !strings.Contains(err.Error(), "tcp") {
		t.Errorf("error %q does not say TCP", err)
	}
	// The UDP socket bound first was released.
	pc, err := net.ListenPacket("udp", cfg.Addr)
	if err != nil {
		t.Errorf("UDP port held after a failed New: %v", err)
	} else {
		pc.Close()
	}
}
