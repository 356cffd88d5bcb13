package server

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	base := "node_name: c1\ndata_dir: /tmp/c1\nbind_addr: 127.0.0.1\nacl: {admin_token: a}\n"
	cases := []struct {
		name string
		yaml string
		want string // substring of the error; empty means valid
	}{
		{"minimal", base, ""},
		{"durations as strings", base + "dns: {ttl: 30s, negative_ttl: 1m, max_stale: 10s}\n", ""},
		{"unknown key", base + "bogus: 1\n", "bogus: unknown key"},
		{"unknown nested key", base + "ports: {raft: 1, ssh: 2}\n", "ports.ssh: unknown key"},
		{"no admin token", "node_name: c1\ndata_dir: /d\nbind_addr: 127.0.0.1\n", "acl.admin_token"},
		{"unspecified bind without advertise", "node_name: c1\ndata_dir: /d\nbind_addr: 0.0.0.0\nacl: {admin_token: a}\n", "advertise_addr"},
		{"bad port", base + "ports: {http: 70000}\n", "ports.http"},
		{"bad key", base + "encrypt: nope\n", "encrypt"},
		{"bad profile", base + "gossip_profile: turbo\n", "gossip_profile"},
		{"bad bootstrap", base + "bootstrap_expect: 0\n", "bootstrap_expect"},
		{"same tokens", "node_name: c1\ndata_dir: /d\nbind_addr: 127.0.0.1\nacl: {admin_token: a, agent_token: a}\n", "acl.agent_token"},
		{"bad duration", base + "dns: {ttl: soon}\n", "ttl"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(strings.NewReader(tc.yaml), "test.yaml")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestConfigReportsEveryProblem(t *testing.T) {
	_, err := ParseConfig(strings.NewReader("node_name: ''\ndata_dir: ''\nbind_addr: x\n"), "c.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"node_name", "data_dir", "bind_addr", "acl.admin_token"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestExampleConfigsAreValid(t *testing.T) {
	files, err := filepath.Glob("../../examples/cluster/coordinator-*.yaml")
	if err != nil || len(files) != 3 {
		t.Fatalf("example configs: %v %v", files, err)
	}
	for _, f := range files {
		if _, err := LoadConfig(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
