package yamlconfig

import (
	"strings"
	"testing"
	"time"
)

type inner struct {
	TTL  time.Duration `yaml:"ttl"`
	Zone string        `yaml:"zone"`
}

type item struct {
	Name string `yaml:"name"`
	Port int    `yaml:"port"`
}

type conf struct {
	Name  string   `yaml:"name"`
	DNS   inner    `yaml:"dns"`
	Items []item   `yaml:"items"`
	Join  []string `yaml:"join"`
	On    bool     `yaml:"on"`
}

func TestDecode(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"valid", "name: a\ndns: {ttl: 5s}\nitems:\n  - {name: x, port: 1}\n", ""},
		{"empty keeps defaults", "", ""},
		{"unknown top key", "name: a\nbogus: 1\n", "line 2: bogus: unknown key"},
		{"unknown nested key", "dns:\n  ttl: 5s\n  color: red\n", "line 3: dns.color: unknown key"},
		{"bad duration", "dns: {ttl: soon}\n", `line 1: dns.ttl: "soon" is not a duration`},
		{"bad int in list", "items:\n  - name: x\n    port: many\n", `line 3: items[0].port: "many" is not a whole number`},
		{"bad bool", "on: maybe\n", `line 1: on: "maybe" is not true or false`},
		{"syntax", "name: [unclosed\n", "line"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := conf{Name: "default", DNS: inner{TTL: time.Second}}
			err := Decode(strings.NewReader(tc.yaml), &c)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if tc.yaml == "" && (c.Name != "default" || c.DNS.TTL != time.Second) {
					t.Fatalf("defaults lost: %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
		})
	}
}
