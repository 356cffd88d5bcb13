package server

import (
	"strings"
	"testing"
)

func TestParseProvisionerConfig(t *testing.T) {
	base := "node_name: c1\ndata_dir: /tmp/c1\nbind_addr: 127.0.0.1\nacl: {admin_token: a}\n"
	cases := []struct {
		name string
		yaml string
		want string // substring of the error; empty means valid
	}{
		{"no hook", base, ""},
		{"command", base + "provisioner: {command: [/bin/provision, --pool], timeout: 30s, max_in_flight: 2, boot_timeout: 5m}\n", ""},
		{"webhook with token", base + "provisioner: {webhook: 'https://ops.example.net/hook', token_file: /etc/understudy/hook.token}\n", ""},
		{"both", base + "provisioner: {command: [x], webhook: 'https://h/'}\n", "command and webhook exclude each other"},
		{"bad url", base + "provisioner: {webhook: 'ftp://h/'}\n", "provisioner.webhook"},
		{"token without webhook", base + "provisioner: {command: [x], token_file: /t}\n", "provisioner.token_file"},
		{"token alone", base + "provisioner: {token_file: /t}\n", "provisioner.token_file"},
		{"no in flight", base + "provisioner: {command: [x], max_in_flight: 0}\n", "provisioner.max_in_flight"},
		{"no boot timeout", base + "provisioner: {command: [x], boot_timeout: 0s}\n", "provisioner.boot_timeout"},
		{"unknown key", base + "provisioner: {comand: [x]}\n", "provisioner.comand: unknown key"},
		{"duration not a string", base + "provisioner: {command: [x], timeout: soon}\n", "timeout"},
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
