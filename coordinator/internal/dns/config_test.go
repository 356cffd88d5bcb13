package dns

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigIsValid(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := cfg.validateListen(); err != nil {
		t.Fatal(err)
	}
	if cfg.Zone != "understudy." || cfg.TTL != 5*time.Second || cfg.NegativeTTL != 5*time.Second || cfg.MaxStale != 0 || cfg.RateLimit != 0 {
		t.Errorf("DefaultConfig() = %+v", cfg)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   []string // substrings of the error, one per problem
	}{
		{"empty zone", func(c *Config) { c.Zone = " " }, []string{"zone is empty"}},
		{"root zone", func(c *Config) { c.Zone = "." }, []string{"must not be the root"}},
		{"bad zone", func(c *Config) { c.Zone = "a..b." }, []string{"not a valid domain name"}},
		{"zone without dot is fine", func(c *Config) { c.Zone = "grid.example" }, nil},
		{"negative ttl", func(c *Config) { c.TTL = -time.Second }, []string{"dns ttl -1s is out of range"}},
		{"huge negative_ttl", func(c *Config) { c.NegativeTTL = 100 * 365 * 24 * time.Hour }, []string{"dns negative_ttl"}},
		{"negative max_stale", func(c *Config) { c.MaxStale = -1 }, []string{"max_stale"}},
		{"negative rate limit", func(c *Config) { c.RateLimit = -1 }, []string{"rate limit -1"}},
		{"every problem at once", func(c *Config) {
			c.Zone, c.TTL, c.MaxStale, c.RateLimit = "", -1, -1, -1
		}, []string{"zone is empty", "dns ttl", "max_stale", "rate limit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.change(&cfg)
			err := cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors mentioning %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
			if _, err := New(cfg, fixture(t)); err == nil {
				t.Error("New accepted an invalid config")
			}
		})
	}
}

func TestConfigListenAddress(t *testing.T) {
	t.Parallel()
	for addr, ok := range map[string]bool{
		"127.0.0.1:0":   true,
		"[::1]:8600":    true,
		":8600":         true,
		"":              false,
		"127.0.0.1":     false,
		"localhost:53":  false,
		"127.0.0.1:x":   false,
		"127.0.0.1:1e6": false,
	} {
		cfg := DefaultConfig()
		cfg.Addr = addr
		if err := cfg.validateListen(); (err == nil) != ok {
			t.Errorf("listen address %q: err %v, want ok %v", addr, err, ok)
		}
	}
}
