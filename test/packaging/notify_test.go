//go:build packaging

package packaging

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// daemonsNotifySystemd runs the packaged programs as systemd would with
// Type=notify and WatchdogSec, with NOTIFY_SOCKET pointing at a socket the
// test listens on, and checks READY=1, watchdog pings and STOPPING=1 on
// SIGTERM, followed by a clean exit.
func daemonsNotifySystemd(t *testing.T, binDir string) {
	dir := t.TempDir()
	coordinator := `node_name: c1
data_dir: ` + filepath.Join(dir, "coordinator") + `
bind_addr: 127.0.0.1
ports: {raft: 0, gossip: 0, http: 0, dns: 0}
acl: {admin_token: admin-secret}
`
	// The agent reports ready once its listener is bound, before it
	// reaches any coordinator, so an address nobody answers on will do.
	agent := `node_name: h1
data_dir: ` + filepath.Join(dir, "agent") + `
bind_addr: 127.0.0.1
ports: {gossip: 0, http: 0}
retry_join: ["127.0.0.1:1"]
token: agent-secret
`
	for _, tc := range []struct{ prog, sub, config string }{
		{"understudy-coordinator", "serve", coordinator},
		{"understudy-agent", "run", agent},
	} {
		t.Run(tc.prog, func(t *testing.T) {
			cfg := filepath.Join(dir, tc.prog+".yaml")
			if err := os.WriteFile(cfg, []byte(tc.config), 0o600); err != nil {
				t.Fatal(err)
			}
			sock := filepath.Join(dir, tc.prog+".sock")
			conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()

			var logs strings.Builder
			cmd := exec.CommandContext(t.Context(), filepath.Join(binDir, tc.prog), tc.sub, "--config", cfg)
			cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=200000")
			cmd.Stdout, cmd.Stderr = &logs, &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if t.Failed() {
					t.Logf("%s output:\n%s", tc.prog, logs.String())
				}
			}()

			deadline := time.Now().Add(30 * time.Second)
			// await reads messages until want, allowing watchdog pings
			// in between.
			await := func(want string) {
				t.Helper()
				buf := make([]byte, 4096)
				for {
					if err := conn.SetReadDeadline(deadline); err != nil {
						t.Fatal(err)
					}
					n, err := conn.Read(buf)
					if err != nil {
						cmd.Process.Kill()
						cmd.Wait()
						t.Fatalf("waiting for %s: %v", want, err)
					}
					switch got := string(buf[:n]); got {
					case want:
						return
					case "WATCHDOG=1":
					default:
						t.Errorf("unexpected notification %q while waiting for %s", got, want)
					}
				}
			}
			await("READY=1")
			// Two pings at 100 ms intervals: the watchdog is fed.
			await("WATCHDOG=1")
			await("WATCHDOG=1")
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			await("STOPPING=1")
			if err := cmd.Wait(); err != nil {
				t.Errorf("%s after SIGTERM: %v, want exit status 0", tc.prog, err)
			}
		})
	}
}
