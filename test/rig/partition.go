package rig

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

// ErrNoNftables means partitions cannot be made on this machine.
var ErrNoNftables = errors.New("nftables unavailable")

// NftAvailable reports whether nft can add and delete a table here (it
// needs root and a kernel with nf_tables).
func NftAvailable() error {
	if _, err := exec.LookPath("nft"); err != nil {
		return fmt.Errorf("%w: %v", ErrNoNftables, err)
	}
	name := fmt.Sprintf("understudy_probe_%d", os.Getpid())
	if out, err := nft("add table inet " + name + "\n"); err != nil {
		return fmt.Errorf("%w: %v: %s", ErrNoNftables, err, out)
	}
	nft("delete table inet " + name + "\n")
	return nil
}

func nft(script string) ([]byte, error) {
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	return cmd.CombinedOutput()
}

// Partition is a set of nftables rules that cut one host off from the
// coordinators.
type Partition struct {
	table  string
	healed atomic.Bool
}

var partSeq atomic.Uint32

// Cut drops all traffic between h and the coordinators, in both directions,
// while h keeps running and its service stays reachable from elsewhere.
// Traffic is matched by address (each side's listeners) and by the group id
// of the sending process (outgoing connections on loopback leave from
// 127.0.0.1). The rules are removed by Heal and at the test's cleanup.
func (c *Cluster) Cut(t testing.TB, h *Host) *Partition {
	t.Helper()
	p := &Partition{table: fmt.Sprintf("understudy_cut_%d_%d", os.Getpid(), partSeq.Add(1))}
	coords := strings.Join(c.IPs(), ", ")
	script := fmt.Sprintf(`table inet %[1]s {
	chain input {
		type filter hook input priority -10; policy accept;
		ip saddr %[2]s ip daddr { %[3]s } drop
		ip saddr { %[3]s } ip daddr %[2]s drop
	}
	chain output {
		type filter hook output priority -10; policy accept;
		ip saddr %[2]s ip daddr { %[3]s } drop
		ip saddr { %[3]s } ip daddr %[2]s drop
		meta skgid %[4]d ip daddr { %[3]s } drop
		meta skgid %[5]d ip daddr %[2]s drop
	}
}
`, p.table, h.IP, coords, h.gid, c.gid)
	if out, err := nft(script); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if err := p.Heal(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// Heal removes the rules; it is idempotent.
func (p *Partition) Heal() error {
	if p.healed.Swap(true) {
		return nil
	}
	if out, err := nft("delete table inet " + p.table + "\n"); err != nil {
		return fmt.Errorf("nft delete table %s: %v: %s", p.table, err, out)
	}
	return nil
}
