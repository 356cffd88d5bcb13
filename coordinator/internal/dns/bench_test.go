package dns

import (
	"context"
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// packWriter packs replies into a reused buffer, as the server's writer
// packs them onto the wire, and throws them away.
type packWriter struct {
	buf []byte
	n   int
}

func (w *packWriter) LocalAddr() net.Addr  { return udpClient }
func (w *packWriter) RemoteAddr() net.Addr { return udpClient }
func (w *packWriter) WriteMsg(m *mdns.Msg) error {
	b, err := m.PackBuffer(w.buf)
	w.n = len(b)
	return err
}
func (w *packWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *packWriter) Close() error                { return nil }
func (w *packWriter) TsigStatus() error           { return nil }
func (w *packWriter) TsigTimersOnly(bool)         {}
func (w *packWriter) Hijack()                     {}

// BenchmarkServeDNS measures the handler, packing included, for the query
// mix of the DNS benchmark: A, SRV and NXDOMAIN, as a UDP client with EDNS
// would send them.
func BenchmarkServeDNS(b *testing.B) {
	cfg := testConfig(b)
	cfg.Logger = nil
	h := newTestHandler(b, cfg, fixture(b))
	for _, bc := range []struct {
		name  string
		qname string
		qtype uint16
		rcode int
	}{
		{"A", "login.service.understudy.", mdns.TypeA, mdns.RcodeSuccess},
		{"SRV", "login.service.understudy.", mdns.TypeSRV, mdns.RcodeSuccess},
		{"NXDOMAIN", "nosuch.service.understudy.", mdns.TypeA, mdns.RcodeNameError},
	} {
		b.Run(bc.name, func(b *testing.B) {
			q := query(bc.qname, bc.qtype)
			q.SetEdns0(1232, false)
			if m := exchange(b, h, q, false); m.Rcode != bc.rcode {
				b.Fatalf("rcode %s, want %s", mdns.RcodeToString[m.Rcode], mdns.RcodeToString[bc.rcode])
			}
			w := &packWriter{buf: make([]byte, 4096)}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeDNS(w, q)
			}
			b.SetBytes(int64(w.n))
		})
	}
}

// BenchmarkServerUDP measures one query's round trip through a running
// server over loopback UDP, one query at a time: socket, goroutine and
// handler costs together.
func BenchmarkServerUDP(b *testing.B) {
	cfg := testConfig(b)
	cfg.Logger = nil
	s, err := New(cfg, fixture(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	conn, err := mdns.Dial("udp", s.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	q := query("login.service.understudy.", mdns.TypeA)
	b.ReportAllocs()
	for b.Loop() {
		if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			b.Fatal(err)
		}
		if err := conn.WriteMsg(q); err != nil {
			b.Fatal(err)
		}
		m, err := conn.ReadMsg()
		if err != nil {
			b.Fatal(err)
		}
		if len(m.Answer) != 2 {
			b.Fatalf("answer %v", m.Answer)
		}
	}
}
