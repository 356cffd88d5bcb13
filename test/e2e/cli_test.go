//go:build e2e

package e2e

import (
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/understudy/understudy/pkg/gossip"
	"github.com/understudy/understudy/test/rig"
)

func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", "node_name: c1\ndata_dir: /tmp/x\nbind_addr: 127.0.0.1\nacl: {admin_token: a}\nbogus_key: 1\n")
	invalid := writeFile(t, dir, "invalid.yaml", "node_name: c1\ndata_dir: /tmp/x\nbind_addr: 127.0.0.1\nacl: {admin_token: a}\ngossip_profile: turbo\n")
	agentBad := writeFile(t, dir, "agent.yaml", "node_name: a\nbind_addr: 127.0.0.1\nrole: boss\nretry_join: [127.0.0.1]\ntoken: t\n")
	cases := []struct {
		name string
		args []string
		want string
		code int
	}{
		{"unknown config key", []string{"understudy-coordinator", "serve", "--config", bad}, "bogus_key", 2},
		{"invalid config value", []string{"understudy-coordinator", "serve", "--config", invalid}, "gossip_profile", 2},
		{"missing config", []string{"understudy-coordinator", "serve"}, "--config is required", 2},
		{"unknown flag", []string{"understudy-coordinator", "hosts", "--nope"}, "unknown flag", 2},
		{"unknown command", []string{"understudy-coordinator", "frobnicate"}, "unknown command", 2},
		{"extra argument", []string{"understudy-coordinator", "hosts", "extra"}, "unknown command", 2},
		{"agent bad role", []string{"understudy-agent", "run", "--config", agentBad}, "role", 2},
		{"coordinator unreachable", []string{"understudy-coordinator", "hosts", "--addr", "127.0.0.1:1"}, "connect", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, nil, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, errOut)
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Fatalf("stderr = %q, want one line mentioning %q", errOut, tc.want)
			}
		})
	}
	out, _, code := runCLI(t, nil, "understudy-coordinator", "--help")
	if code != 0 || !strings.Contains(out, "serve") || !strings.Contains(out, "dev") {
		t.Fatalf("--help: exit %d\n%s", code, out)
	}
}

func TestSIGHUPReloadsLogLevel(t *testing.T) {
	key, err := gossip.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgText := coordinatorConfig("solo", dir, key, nil)
	cfgText = strings.Replace(cfgText, "bootstrap_expect: 3", "bootstrap_expect: 1", 1)
	cfg := writeFile(t, dir, "coordinator.yaml", cfgText)
	p := rig.StartProc(t, "solo", 0, bins.Coordinator, "serve", "--config", cfg)
	p.Field(t, reHTTP, 20*time.Second)

	// A bad file is rejected and the daemon keeps running.
	writeFile(t, dir, "coordinator.yaml", cfgText+"bogus: 1\n")
	p.Signal(syscall.SIGHUP)
	p.Field(t, regexp.MustCompile(`msg="reload: configuration rejected.*(bogus)`), 10*time.Second)

	// A good one changes the log level.
	writeFile(t, dir, "coordinator.yaml", strings.Replace(cfgText, "log_level: info", "log_level: debug", 1))
	p.Signal(syscall.SIGHUP)
	p.Field(t, regexp.MustCompile(`msg="reload: log level applied.*log_level=(debug)`), 10*time.Second)
	p.Field(t, regexp.MustCompile(`level=(DEBUG)`), 10*time.Second)
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}
