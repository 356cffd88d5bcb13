//go:build bench

package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/understudy/understudy/test/rig"
)

// This file holds what the DNS and failure-detection measurements
// (make bench-dns, make bench-detect) share: a test/rig cluster of the
// built coordinator and agent, with agent processes each on a loopback
// address of its own. Those measurements run only when
// UNDERSTUDY_BENCH_DNS=1 (the make targets set it), so that
// make bench-coordinator does not run them.

func needDNSBench(t *testing.T) {
	t.Helper()
	if os.Getenv("UNDERSTUDY_BENCH_DNS") != "1" {
		t.Skip("DNS and detection measurements run with UNDERSTUDY_BENCH_DNS=1 (make bench-dns, make bench-detect)")
	}
}

var (
	agentOnce sync.Once
	agentBin  string
	agentErr  error
)

// buildAgent builds understudy-agent once, next to the coordinator.
func buildAgent(t *testing.T) string {
	t.Helper()
	agentOnce.Do(func() {
		agentBin = filepath.Join(filepath.Dir(coordBin), "understudy-agent")
		cmd := exec.Command("go", "build", "-trimpath", "-o", agentBin, "./agent")
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			agentErr = fmt.Errorf("build understudy-agent: %v\n%s", err, out)
		}
	})
	if agentErr != nil {
		t.Fatal(agentErr)
	}
	return agentBin
}

// startDNSCluster starts n coordinators (1 or 3) with one gossip profile
// and waits until they have a leader.
func startDNSCluster(t *testing.T, n int, profile string) *rig.Cluster {
	t.Helper()
	bins := rig.Binaries{Coordinator: coordBin, Agent: buildAgent(t)}
	return rig.Start(t, rig.Spec{Bins: bins, Profile: profile, Coordinators: n})
}

// startPlainHost starts an agent named name with role on a fresh loopback
// address, registering plain services (no check: passing while the host
// is alive) on port 8002.
func startPlainHost(c *rig.Cluster, name, role string, services ...string) *rig.Host {
	svc := ""
	for _, s := range services {
		svc += fmt.Sprintf("  - {name: %s, grid: bench, port: 8002}\n", s)
	}
	return c.StartHost(rig.HostSpec{Name: name, Role: role, Services: svc})
}
