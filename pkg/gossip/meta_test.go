package gossip

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestMetaRoundTrip(t *testing.T) {
	t.Parallel()
	for _, m := range []Meta{coordMeta("coord-1"), agentMeta("host-a", RoleStandby), {Kind: KindAgent, Role: RoleActive}} {
		b, err := m.Encode()
		if err != nil {
			t.Fatalf("Encode(%+v): %v", m, err)
		}
		if b[0] != MetaVersion {
			t.Errorf("Encode(%+v)[0] = %d, want version %d", m, b[0], MetaVersion)
		}
		got, err := DecodeMeta(b)
		if err != nil {
			t.Fatalf("DecodeMeta: %v", err)
		}
		if got != m {
			t.Errorf("round trip = %+v, want %+v", got, m)
		}
	}
}

func TestMetaEncodingIsPinned(t *testing.T) {
	t.Parallel()
	b, err := agentMeta("host-a", RoleActive).Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := "\x01" + `{"k":"agent","h":"host-a","r":"eu-west","ro":"active","v":"0.1.0","ma":"127.0.0.1:8400"}`
	if string(b) != want {
		t.Errorf("Encode = %q, want %q", b, want)
	}
}

func TestDecodeMetaToleratesUnknownFields(t *testing.T) {
	t.Parallel()
	b := append([]byte{MetaVersion}, `{"k":"agent","h":"host-a","ro":"standby","zz":{"future":[1,2]},"new":"x"}`...)
	m, err := DecodeMeta(b)
	if err != nil {
		t.Fatalf("DecodeMeta: %v", err)
	}
	if want := (Meta{Kind: KindAgent, HostID: "host-a", Role: RoleStandby}); m != want {
		t.Errorf("DecodeMeta = %+v, want %+v", m, want)
	}
}

func TestDecodeMetaErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		in      []byte
		version bool
	}{
		{"empty", nil, false},
		{"unknown version", append([]byte{2}, `{"k":"agent"}`...), true},
		{"bad json", append([]byte{MetaVersion}, `{"k":`...), false},
		{"json without version byte", []byte(`{"k":"agent"}`), true},
	}
	for _, tc := range cases {
		_, err := DecodeMeta(tc.in)
		if err == nil {
			t.Errorf("%s: DecodeMeta succeeded", tc.name)
			continue
		}
		if got := errors.Is(err, ErrMetaVersion); got != tc.version {
			t.Errorf("%s: errors.Is(%v, ErrMetaVersion) = %v, want %v", tc.name, err, got, tc.version)
		}
	}
}

func TestMetaEncodeTooLarge(t *testing.T) {
	t.Parallel()
	m := agentMeta("host-a", RoleActive)
	m.Version = strings.Repeat("v", MetaMaxSize)
	if _, err := m.Encode(); !errors.Is(err, ErrMetaTooLarge) {
		t.Errorf("Encode of a %d-byte version = %v, want ErrMetaTooLarge", len(m.Version), err)
	}
	// Realistic metadata with long names still fits.
	m = coordMeta(strings.Repeat("h", 64))
	m.Region = strings.Repeat("r", 32)
	m.Version = "v1.2.3-rc.1+" + strings.Repeat("g", 40)
	m.RaftAddr, m.HTTPAddr, m.DNSAddr = "[2001:db8::1234:5678]:8300", "[2001:db8::1234:5678]:8500", "[2001:db8::1234:5678]:8600"
	if b, err := m.Encode(); err != nil {
		t.Errorf("Encode of long realistic metadata (%d bytes): %v", len(b), err)
	}
}

func TestMetaValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		meta Meta
		ok   bool
	}{
		{"coordinator", coordMeta("c"), true},
		{"active agent", agentMeta("a", RoleActive), true},
		{"standby agent", agentMeta("a", RoleStandby), true},
		{"no kind", Meta{}, false},
		{"unknown kind", Meta{Kind: "router"}, false},
		{"agent without role", Meta{Kind: KindAgent}, false},
		{"agent with unknown role", Meta{Kind: KindAgent, Role: "primary"}, false},
		{"coordinator with role", Meta{Kind: KindCoordinator, Role: RoleActive}, false},
		{"coordinator with mirror", Meta{Kind: KindCoordinator, MirrorAddr: "h:1"}, false},
		{"agent with raft addr", Meta{Kind: KindAgent, Role: RoleActive, RaftAddr: "h:1"}, false},
		{"address without port", Meta{Kind: KindCoordinator, HTTPAddr: "10.0.0.1"}, false},
		{"address with bad port", Meta{Kind: KindCoordinator, DNSAddr: "10.0.0.1:99999"}, false},
		{"address without host", Meta{Kind: KindCoordinator, RaftAddr: ":8300"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.meta.Validate()
			if (err == nil) != tc.ok {
				t.Errorf("Validate(%+v) = %v, want ok=%v", tc.meta, err, tc.ok)
			}
		})
	}
}

func FuzzDecodeMeta(f *testing.F) {
	b, _ := coordMeta("c").Encode()
	f.Add(b)
	f.Add([]byte{MetaVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			return
		}
		if m.Validate() != nil {
			return
		}
		enc, err := m.Encode()
		if err != nil && !errors.Is(err, ErrMetaTooLarge) {
			t.Fatalf("re-encode of valid decoded meta: %v", err)
		}
		if err == nil {
			if back, _ := DecodeMeta(enc); back != m {
				t.Fatalf("re-decode = %+v, want %+v", back, m)
			}
		}
	})
}

func TestCountMembersEmitsEverySeries(t *testing.T) {
	members := []Member{
		{Name: "c1", State: StateAlive, Meta: Meta{Kind: KindCoordinator}},
		{Name: "a1", State: StateAlive, Meta: Meta{Kind: KindAgent}},
		{Name: "a2", State: StateAlive, Meta: Meta{Kind: KindAgent}},
		{Name: "a3", State: StateLeft, Meta: Meta{Kind: KindAgent}},
	}
	got := map[string]float64{}
	CountMembers(members, func(n float64, labels ...string) {
		got[strings.Join(labels, "/")] = n
	})
	want := map[string]float64{
		"alive/coordinator": 1, "alive/agent": 2, "dead/coordinator": 0, "dead/agent": 0,
		"left/coordinator": 0, "left/agent": 1,
	}
	if !maps.Equal(got, want) {
		t.Errorf("CountMembers emitted %v, want %v", got, want)
	}
}
