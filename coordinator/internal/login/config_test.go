package login

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero Config: %v", err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"negative durations", Config{Timeout: -1, TotalTimeout: -1, DialTimeout: -1},
			[]string{"timeout -1ns is negative", "total_timeout -1ns is negative", "dial_timeout -1ns is negative"}},
		{"total under attempt", Config{Timeout: 10 * time.Second, TotalTimeout: time.Second},
			[]string{"total_timeout 1s is shorter than timeout 10s"}},
		{"body limits", Config{MaxBody: -1}, []string{"max_body -1 is out of range"}},
		{"body too large", Config{MaxBody: 1 << 30}, []string{"max_body 1073741824 is out of range"}},
		{"hosts", Config{Hosts: map[string]string{"Login.Example": "g", "": "g", "a b": "g", "ok.example": "", "x.example": "a/b"}},
			[]string{`"Login.Example" must be lower case`, `"" is not a host name`, `"a b" is not a host name`,
				`"ok.example" maps to ""`, `"x.example" maps to "a/b"`}},
	} {
		err := tc.cfg.Validate()
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v\nwant it to mention %q", tc.name, err, w)
			}
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{Timeout: 40 * time.Second}.withDefaults()
	if c.TotalTimeout != 40*time.Second || c.DialTimeout != DefaultDialTimeout || c.MaxBody != DefaultMaxBody || c.Logger == nil {
		t.Fatalf("defaults = %+v", c)
	}
	if c := (Config{Timeout: time.Second}).withDefaults(); c.DialTimeout != time.Second || c.TotalTimeout != DefaultTotalTimeout {
		t.Fatalf("dial timeout over attempt timeout = %+v", c)
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	cat := newTestCatalog(t)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no port", Config{Addr: "127.0.0.1"}},
		{"bad port", Config{Addr: "127.0.0.1:http-ish"}},
		{"bad config", Config{Addr: "127.0.0.1:0", MaxBody: -5}},
	} {
		if f, err := New(tc.cfg, cat); err == nil {
			f.Close()
			t.Errorf("%s: New accepted %+v", tc.name, tc.cfg)
		}
	}
	if _, err := NewHandler(Config{}, nil); err == nil {
		t.Error("NewHandler accepted a nil view")
	}
}
