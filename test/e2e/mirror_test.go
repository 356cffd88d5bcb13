//go:build e2e

package e2e

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/test/rig"
)

// sums hashes every regular file under root by relative path.
func sums(root string) map[string][32]byte {
	m := map[string][32]byte{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		m[rel] = sha256.Sum256(b)
		return nil
	})
	return m
}

func sameSums(a, b map[string][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func fillDir(t *testing.T, dir string, r *mrand.Rand, n int) {
	t.Helper()
	for range n {
		b := make([]byte, 1+r.IntN(600<<10))
		for j := range b {
			b[j] = byte(r.Uint32() >> 24)
		}
		p := filepath.Join(dir, fmt.Sprintf("region%d", r.IntN(3)), fmt.Sprintf("file%02d.dat", r.IntN(16)))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMirrorBetweenAgentProcesses runs a primary and a standby agent as
// processes: each snapshot the primary takes on its schedule reaches the
// standby over mutual TLS, the standby's warm copy equals the source byte
// for byte, and the coordinators show both copies.
func TestMirrorBetweenAgentProcesses(t *testing.T) {
	c := rig.Start(t, rig.Spec{Bins: bins, Profile: "fast"})
	src := t.TempDir()
	warm := filepath.Join(t.TempDir(), "warm")
	r := mrand.New(mrand.NewPCG(5, 5))
	fillDir(t, src, r, 10)

	agent := func(name, role, path string) *rig.Proc {
		dir := t.TempDir()
		cfg := writeFile(t, dir, "agent.yaml", fmt.Sprintf(`node_name: %s
data_dir: %s
role: %s
bind_addr: 127.0.0.1
ports: {gossip: 0, http: 0, mirror: 0}
retry_join: [%s]
encrypt: %q
token: agent-secret
gossip_profile: fast
log_level: info
%sservices:
  - {name: world, port: 9000, datasets: [world]}
datasets:
  - {name: world, path: %s, class: state, schedule: "* * * * *"}
`, name, dir, role, strings.Join(c.GossipAddrs(), ", "), c.Key(), c.MirrorTLS(name), path))
		return rig.StartProc(t, name, 0, bins.Agent, "run", "--config", cfg)
	}
	agent("host-b", "standby", warm)
	agent("host-a", "active", src)

	cl := api.NewClient(c.Coords[0].HTTP, "admin-secret")
	mirrored := func(after int64) func() bool {
		return func() bool {
			ds, err := cl.Datasets(t.Context())
			if err != nil {
				return false
			}
			for _, d := range ds {
				if d.Host == "host-b" && d.Replica == "mirror" && d.LastMirror > after && d.LastError == "" {
					return sameSums(sums(src), sums(warm))
				}
			}
			return false
		}
	}
	// The first snapshot is taken at start; the next on the minute.
	rig.Eventually(t, 90*time.Second, "the first snapshot in the standby's warm copy", mirrored(0))
	changedAt := time.Now().UnixMilli()
	fillDir(t, src, r, 4)
	rig.Eventually(t, 90*time.Second, "the next scheduled snapshot in the warm copy", mirrored(changedAt))
}
