package gossip

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := func() Config {
		c := DefaultConfig()
		c.NodeName = "host-a"
		c.Meta = agentMeta("host-a", RoleActive)
		return c
	}
	cases := []struct {
		name   string
		mod    func(*Config)
		errors []string // substrings every one of which must appear
	}{
		{"defaults plus name and meta", func(*Config) {}, nil},
		{"port 0 and loopback", func(c *Config) { c.BindAddr, c.BindPort = "127.0.0.1", 0 }, nil},
		{"ipv6 and 16-byte key", func(c *Config) { c.BindAddr, c.Key = "::", make([]byte, 16) }, nil},
		{"fast profile and label", func(c *Config) { c.Profile, c.Label = ProfileFast, "grid-a" }, nil},
		{"empty profile means lan", func(c *Config) { c.Profile = "" }, nil},
		{"no name", func(c *Config) { c.NodeName = "" }, []string{"node name is required"}},
		{"long name", func(c *Config) { c.NodeName = strings.Repeat("n", 129) }, []string{"node name is 129 bytes"}},
		{"hostname as bind", func(c *Config) { c.BindAddr = "localhost" }, []string{"bind address"}},
		{"bind port", func(c *Config) { c.BindPort = 70000 }, []string{"bind port 70000"}},
		{"advertise", func(c *Config) { c.AdvertiseAddr, c.AdvertisePort = "host.example", -1 },
			[]string{"advertise address", "advertise port -1"}},
		{"key length", func(c *Config) { c.Key = make([]byte, 10) }, []string{"encryption key"}},
		{"profile", func(c *Config) { c.Profile = "wan" }, []string{`got "wan"`}},
		{"label", func(c *Config) { c.Label = strings.Repeat("l", 256) }, []string{"label is 256 bytes"}},
		{"retention", func(c *Config) { c.DeadRetention = -time.Second }, []string{"dead retention"}},
		{"meta", func(c *Config) { c.Meta = Meta{} }, []string{"meta: kind"}},
		{"every problem at once", func(c *Config) {
			c.NodeName, c.BindAddr, c.Key, c.Profile = "", "", []byte{1}, "slow"
		}, []string{"node name", "bind address", "encryption key", "profile"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mod(&c)
			err := c.Validate()
			if len(tc.errors) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors %q", tc.errors)
			}
			for _, want := range tc.errors {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, missing %q", err, want)
				}
			}
		})
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{}); err == nil {
		t.Fatal("New(Config{}) succeeded")
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	s, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParseKey(s)
	if err != nil {
		t.Fatalf("ParseKey(GenerateKey()) = %v", err)
	}
	if len(key) != 32 {
		t.Errorf("generated key is %d bytes, want 32", len(key))
	}
	if s2, _ := GenerateKey(); s2 == s {
		t.Error("two generated keys are equal")
	}
	cases := []struct {
		in string
		ok bool
	}{
		{base64.StdEncoding.EncodeToString(make([]byte, 16)), true},
		{base64.StdEncoding.EncodeToString(make([]byte, 24)), true},
		{base64.StdEncoding.EncodeToString(make([]byte, 32)), true},
		{base64.StdEncoding.EncodeToString(make([]byte, 31)), false},
		{"", false},
		{"not base64!", false},
	}
	for _, tc := range cases {
		if _, err := ParseKey(tc.in); (err == nil) != tc.ok {
			t.Errorf("ParseKey(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestProfiles(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	lan := c.memberlistConfig()
	c.Profile = ProfileFast
	fast := c.memberlistConfig()
	if fast.ProbeInterval >= lan.ProbeInterval || fast.ProbeTimeout >= lan.ProbeTimeout {
		t.Errorf("fast probes (%s/%s) are not faster than lan (%s/%s)",
			fast.ProbeInterval, fast.ProbeTimeout, lan.ProbeInterval, lan.ProbeTimeout)
	}
	// Lifeguard stays on: awareness and suspicion confirmations.
	if fast.AwarenessMaxMultiplier <= 1 || fast.SuspicionMaxTimeoutMult <= 1 || fast.SuspicionMult <= 2 {
		t.Errorf("fast profile disables Lifeguard: %+v", fast)
	}
	// Suspicion timeout below ten members: SuspicionMult × ProbeInterval.
	if d := time.Duration(fast.SuspicionMult) * fast.ProbeInterval; d > time.Second {
		t.Errorf("fast suspicion timeout %s, want at most 1s", d)
	}
}

func TestWithDefaultPort(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"10.0.0.1":          "10.0.0.1:8301",
		"10.0.0.1:7000":     "10.0.0.1:7000",
		"coord-1.example":   "coord-1.example:8301",
		"[2001:db8::1]:900": "[2001:db8::1]:900",
		"[2001:db8::1]":     "[2001:db8::1]:8301",
		"2001:db8::1":       "[2001:db8::1]:8301",
	}
	for in, want := range cases {
		if got := withDefaultPort(in); got != want {
			t.Errorf("withDefaultPort(%q) = %q, want %q", in, got, want)
		}
	}
}
