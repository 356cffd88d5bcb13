package packaging

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// units are the shipped systemd units, with the directives the operations
// guide promises and the worst exposure score accepted from
// systemd-analyze security (measured 1.8 and 1.1 with systemd 252).
var units = []struct {
	name        string
	exec        string
	maxExposure float64
	want        []string
	wantNot     []string
}{
	{
		name:        "understudy-coordinator.service",
		exec:        "/usr/bin/understudy-coordinator serve --config /etc/understudy/coordinator.yaml",
		maxExposure: 1.5,
		want: []string{
			"Type=notify", "WatchdogSec=30s", "Restart=on-failure", "RestartSec=5s", "ExecReload=/bin/kill -HUP $MAINPID",
			"KillSignal=SIGTERM", "User=understudy", "LimitNOFILE=65536",
			"ProtectSystem=strict", "ReadWritePaths=/var/lib/understudy/coordinator",
			"NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectHome=yes",
			"CapabilityBoundingSet=", "ProtectKernelTunables=yes", "ProtectControlGroups=yes",
			"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
			"SystemCallFilter=@system-service",
		},
		wantNot: []string{"AmbientCapabilities=CAP", "Restart=always"},
	},
	{
		name:        "understudy-agent.service",
		exec:        "/usr/bin/understudy-agent run --config /etc/understudy/agent.yaml",
		maxExposure: 2.0,
		want: []string{
			"Type=notify", "WatchdogSec=30s", "Restart=on-failure", "RestartSec=5s", "ExecReload=/bin/kill -HUP $MAINPID",
			"KillSignal=SIGTERM", "User=understudy", "LimitNOFILE=65536",
			"ProtectSystem=strict", "ReadWritePaths=/var/lib/understudy/agent",
			"NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectHome=read-only",
			"CapabilityBoundingSet=CAP_DAC_READ_SEARCH", "AmbientCapabilities=CAP_DAC_READ_SEARCH",
			"ProtectKernelTunables=yes", "ProtectControlGroups=yes",
			"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
			"SystemCallFilter=@system-service",
		},
		wantNot: []string{"Restart=always"},
	},
}

// directives reads a unit file into its directive lines, comments dropped.
func directives(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "[") {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUnitDirectives(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	for _, u := range units {
		t.Run(u.name, func(t *testing.T) {
			t.Parallel()
			lines := directives(t, filepath.Join(root, "systemd", u.name))
			has := map[string]bool{}
			for _, l := range lines {
				has[l] = true
			}
			for _, w := range append([]string{"ExecStart=" + u.exec}, u.want...) {
				if !has[w] {
					t.Errorf("missing %q", w)
				}
			}
			for _, l := range lines {
				for _, bad := range u.wantNot {
					if strings.HasPrefix(l, bad) {
						t.Errorf("unexpected %q", l)
					}
				}
			}
			// A bounded restart rate, so a corrupt data dir does not loop.
			for _, k := range []string{"StartLimitIntervalSec=", "StartLimitBurst=", "TimeoutStopSec="} {
				if !slicesHasPrefix(lines, k) {
					t.Errorf("missing %s", k)
				}
			}
		})
	}
}

func slicesHasPrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// installUnits copies the units into dir with ExecStart pointing at stand-in
// executables in dir/bin, because systemd-analyze verify insists that the
// program exists. A copy of the test binary serves: verify checks that the
// path is an executable, not what it does.
func installUnits(t *testing.T, dir string) {
	t.Helper()
	root := repoRoot(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, prog := range []string{"understudy-agent", "understudy-coordinator"} {
		if err := os.Symlink(self, filepath.Join(bin, prog)); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range units {
		b, err := os.ReadFile(filepath.Join(root, "systemd", u.name))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), "ExecStart=/usr/bin/", "ExecStart="+bin+"/")
		if err := os.WriteFile(filepath.Join(dir, u.name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUnitsVerify(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	dir := t.TempDir()
	installUnits(t, dir)

	args := []string{"verify"}
	for _, u := range units {
		args = append(args, filepath.Join(dir, u.name))
	}
	cmd := exec.CommandContext(t.Context(), analyze, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	exposure := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)
	for _, u := range units {
		cmd := exec.CommandContext(t.Context(), analyze, "security", "--offline=true", filepath.Join(dir, u.name))
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		m := exposure.FindSubmatch(out)
		if m == nil {
			t.Errorf("systemd-analyze security %s: %v, no score in\n%s", u.name, err, out)
			continue
		}
		score, _ := strconv.ParseFloat(string(m[1]), 64)
		t.Logf("%s: exposure %.1f", u.name, score)
		if score > u.maxExposure {
			t.Errorf("%s: exposure %.1f, want at most %.1f\n%s", u.name, score, u.maxExposure, out)
		}
	}
}
