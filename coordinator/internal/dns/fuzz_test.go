package dns

import (
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// fuzzSeeds are real queries: every record type and error case of the
// table tests, plus EDNS and header variations.
func fuzzSeeds(f *testing.F) [][]byte {
	var msgs []*mdns.Msg
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"login.service.understudy.", mdns.TypeA},
		{"login.service.understudy.", mdns.TypeAAAA},
		{"login.service.understudy.", mdns.TypeSRV},
		{"robust.login.service.understudy.", mdns.TypeSRV},
		{"LoGiN.SeRvIcE.UnDeRsTuDy.", mdns.TypeA},
		{"host-a.node.understudy.", mdns.TypeA},
		{"coord-1.ns.understudy.", mdns.TypeA},
		{"understudy.", mdns.TypeSOA},
		{"understudy.", mdns.TypeNS},
		{"understudy.", mdns.TypeANY},
		{"understudy.", mdns.TypeAXFR},
		{"nosuch.service.understudy.", mdns.TypeA},
		{`a\.b.service.understudy.`, mdns.TypeA},
		{"example.com.", mdns.TypeA},
	} {
		msgs = append(msgs, query(q.name, q.qtype))
	}
	edns := query("login.service.understudy.", mdns.TypeSRV)
	edns.SetEdns0(1232, true)
	badVers := query("login.service.understudy.", mdns.TypeA)
	badVers.SetEdns0(4096, false)
	badVers.IsEdns0().SetVersion(1)
	notify := query("understudy.", mdns.TypeSOA)
	notify.Opcode = mdns.OpcodeNotify
	two := query("understudy.", mdns.TypeSOA)
	two.Question = append(two.Question, two.Question[0])
	response := query("understudy.", mdns.TypeSOA)
	response.Response = true
	msgs = append(msgs, edns, badVers, notify, two, response)

	var out [][]byte
	for _, m := range msgs {
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzServeDNS feeds arbitrary packets, as the server would after
// unpacking them, to the handler over UDP and TCP. Whatever arrives, the
// handler must not panic, must answer every query exactly once (responses
// never), and its reply must pack, carry the query's ID and fit the UDP
// buffer the query allows.
func FuzzServeDNS(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	cfg := testConfig(f)
	cfg.Logger = nil
	cfg.MaxStale = time.Minute
	cfg.Staleness = func() time.Duration { return 0 }
	h := newTestHandler(f, cfg, fixture(f))

	f.Fuzz(func(t *testing.T, data []byte) {
		q := new(mdns.Msg)
		if err := q.Unpack(data); err != nil {
			return // the server replies FORMERR itself, without the handler
		}
		limit := minUDPSize
		if opt := q.IsEdns0(); opt != nil {
			limit = min(max(int(opt.UDPSize()), minUDPSize), maxUDPSize)
		}
		for _, remote := range []net.Addr{udpClient, tcpClient} {
			rec := newRecorder(remote)
			h.ServeDNS(rec, q)
			if rec.err != nil {
				t.Fatal(rec.err)
			}
			if q.Response {
				if len(rec.msgs) != 0 {
					t.Fatal("answered a response")
				}
				continue
			}
			m := rec.only(t)
			if m.Id != q.Id || !m.Response {
				t.Fatalf("reply id %d response %v to query id %d", m.Id, m.Response, q.Id)
			}
			if _, tcp := remote.(*net.TCPAddr); !tcp && len(rec.wire[0]) > limit {
				t.Fatalf("UDP reply %d bytes, buffer %d", len(rec.wire[0]), limit)
			}
		}
	})
}
