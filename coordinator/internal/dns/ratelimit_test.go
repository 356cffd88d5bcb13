package dns

import (
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// fakeClock drives a limiter's time by hand.
type fakeClock struct{ t time.Duration }

func (c *fakeClock) now() time.Duration { return c.t }

func newTestLimiter(perSecond int) (*limiter, *fakeClock) {
	l := newLimiter(perSecond)
	clk := &fakeClock{}
	l.now = clk.now
	return l, clk
}

func udp(ip string) net.Addr { return &net.UDPAddr{IP: net.ParseIP(ip), Port: 53000} }

func verdicts(l *limiter, addr net.Addr, n int) []verdict {
	out := make([]verdict, n)
	for i := range out {
		out[i] = l.allow(addr)
	}
	return out
}

func TestLimiterBurstThenSlipEverySecond(t *testing.T) {
	t.Parallel()
	l, clk := newTestLimiter(3)
	src := udp("198.51.100.7")
	got := verdicts(l, src, 7)
	want := []verdict{verdictPass, verdictPass, verdictPass, verdictDrop, verdictSlip, verdictDrop, verdictSlip}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("verdicts %v, want %v", got, want)
		}
	}
	// A third of a second buys one token back.
	clk.t += time.Second / 3
	if v := l.allow(src); v != verdictPass {
		t.Errorf("after refill: %v, want pass", v)
	}
	if v := l.allow(src); v == verdictPass {
		t.Error("second response after a one-token refill passed")
	}
	// A long pause refills to the burst, no further.
	clk.t += time.Hour
	got = verdicts(l, src, 4)
	if got[0] != verdictPass || got[1] != verdictPass || got[2] != verdictPass || got[3] == verdictPass {
		t.Errorf("after a long pause: %v, want a burst of 3", got)
	}
}

func TestLimiterNetworks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		a, b  string
		share bool
	}{
		{"same /24", "198.51.100.7", "198.51.100.200", true},
		{"neighbouring /24", "198.51.100.7", "198.51.101.7", false},
		{"IPv4-mapped IPv6 is IPv4", "198.51.100.7", "::ffff:198.51.100.9", true},
		{"same /56", "2001:db8:1:100::1", "2001:db8:1:1ff::2", true},
		{"neighbouring /56", "2001:db8:1:100::1", "2001:db8:1:200::1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, _ := newTestLimiter(1)
			if v := l.allow(udp(tc.a)); v != verdictPass {
				t.Fatalf("first response from %s: %v", tc.a, v)
			}
			v := l.allow(udp(tc.b))
			if shared := v != verdictPass; shared != tc.share {
				t.Errorf("%s after %s: %v, want shared bucket %v", tc.b, tc.a, v, tc.share)
			}
		})
	}
}

// TestLimiterBoundedMemory: a flood from many networks does not grow the
// limiter, and a network evicted from its slot starts again with a full
// bucket rather than being locked out.
func TestLimiterBoundedMemory(t *testing.T) {
	t.Parallel()
	l, _ := newTestLimiter(1)
	const networks = 60_000 // distinct /24s, more than three times the slots
	for i := range networks {
		ip := net.IPv4(10, byte(i>>8), byte(i), 1)
		l.allow(&net.UDPAddr{IP: ip, Port: 1})
	}
	used := 0
	for i := range l.shards {
		for j := range l.shards[i].slots {
			if l.shards[i].slots[j].key != ([17]byte{}) {
				used++
			}
		}
	}
	if max := limiterShards * limiterShardSlots; used > max || used < max*9/10 {
		t.Errorf("%d slots in use after %d networks, want close to %d", used, networks, max)
	}
}

func TestLimiterIgnoresUnknownAddresses(t *testing.T) {
	t.Parallel()
	l, _ := newTestLimiter(1)
	for range 3 {
		if v := l.allow(&net.UnixAddr{Name: "x", Net: "unixgram"}); v != verdictPass {
			t.Fatalf("non-IP source: %v, want pass", v)
		}
	}
}

// TestRateLimitedHandler: over the limit a UDP client gets an empty TC
// reply every second response and nothing otherwise; TCP is not limited.
func TestRateLimitedHandler(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.RateLimit = 2
	h := newTestHandler(t, cfg, fixture(t))
	clk := &fakeClock{}
	h.limit.now = clk.now

	q := query("login.service.understudy.", mdns.TypeA)
	rec := newRecorder(udpClient)
	for range 6 {
		h.ServeDNS(rec, q)
	}
	if rec.err != nil {
		t.Fatal(rec.err)
	}
	// 2 answers, then drop, slip, drop, slip.
	if len(rec.msgs) != 4 {
		t.Fatalf("%d replies to 6 queries, want 4", len(rec.msgs))
	}
	for i, m := range rec.msgs[:2] {
		if m.Truncated || len(m.Answer) != 2 {
			t.Errorf("reply %d: TC %v, %d answers; want a full answer", i, m.Truncated, len(m.Answer))
		}
	}
	for i, m := range rec.msgs[2:] {
		if !m.Truncated || len(m.Answer) != 0 || m.Id != q.Id || len(m.Question) != 1 {
			t.Errorf("slip %d: TC %v, %d answers, id %d; want an empty TC reply to id %d", i, m.Truncated, len(m.Answer), m.Id, q.Id)
		}
	}

	tcp := newRecorder(tcpClient)
	for range 6 {
		h.ServeDNS(tcp, q)
	}
	if len(tcp.msgs) != 6 {
		t.Errorf("TCP: %d replies to 6 queries, want 6", len(tcp.msgs))
	}

	clk.t += time.Second
	rec = newRecorder(udpClient)
	h.ServeDNS(rec, q)
	if m := rec.only(t); m.Truncated || len(m.Answer) != 2 {
		t.Errorf("after a second: TC %v, %d answers; want a full answer", m.Truncated, len(m.Answer))
	}
}
