package hostagent

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	base := "node_name: a\ndata_dir: /tmp/a\nbind_addr: 127.0.0.1\nretry_join: [127.0.0.1]\ntoken: t\n"
	cases := []struct {
		name string
		yaml string
		want string
	}{
		{"minimal", base, ""},
		{"services", base + "services:\n  - {name: login, port: 8002, tags: [robust]}\n", ""},
		{"unknown key", base + "nope: 1\n", "nope: unknown key"},
		{"bad role", base + "role: boss\n", "role"},
		{"no join", "node_name: a\ndata_dir: /d\nbind_addr: 127.0.0.1\ntoken: t\n", "retry_join"},
		{"no token", "node_name: a\ndata_dir: /d\nbind_addr: 127.0.0.1\nretry_join: [x]\n", "token"},
		{"duplicate service", base + "services:\n  - {name: a, port: 1}\n  - {name: a, port: 2}\n", "listed twice"},
		{"bad service port", base + "services:\n  - {name: a, port: 0}\n", "services[0].port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(strings.NewReader(tc.yaml), "agent.yaml")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestExampleConfigsAreValid(t *testing.T) {
	files, _ := filepath.Glob("../../examples/cluster/agent-*.yaml")
	if len(files) != 2 {
		t.Fatalf("example agent configs: %v", files)
	}
	for _, f := range files {
		if _, err := LoadConfig(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
