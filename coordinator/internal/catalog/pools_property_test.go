package catalog

import (
	"bytes"
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

// TestPoolCommandsProperties applies random sequences of host and pool
// commands to two replicas and checks that they stay identical, that no
// host is ever allocated twice, and that every allocation went to a host
// that was ready when it was made.
func TestPoolCommandsProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		a, b := New(), New()
		var idx uint64
		apply := func(cmd Command) error {
			idx++
			entry, err := Encode(cmd)
			if err != nil {
				t.Fatal(err)
			}
			ea, eb := a.Apply(idx, entry), b.Apply(idx, entry)
			if fmt.Sprint(ea) != fmt.Sprint(eb) {
				t.Fatalf("replicas disagree on %T: %v / %v", cmd, ea, eb)
			}
			return ea
		}
		if err := apply(&SetPoolPolicy{Region: "eu", Policy: poolPolicy()}); err != nil {
			t.Fatal(err)
		}
		host := rapid.SampledFrom([]string{"h0", "h1", "h2", "h3", "h4", "h5"})
		for i := range rapid.IntRange(1, 60).Draw(t, "steps") {
			name := host.Draw(t, "host")
			switch rapid.IntRange(0, 5).Draw(t, "op") {
			case 0:
				role := rapid.SampledFrom([]Role{RoleStandby, RoleActive}).Draw(t, "role")
				region := rapid.SampledFrom([]string{"eu", "us"}).Draw(t, "region")
				apply(&UpsertHost{Name: name, Region: region, Role: role, At: int64(i)})
			case 1:
				st := rapid.SampledFrom([]HostStatus{HostAlive, HostFailed, HostLeft}).Draw(t, "status")
				apply(&SetHostStatus{Name: name, Status: st, At: int64(i)})
			case 2:
				apply(&FenceHost{Name: name, Fenced: rapid.Bool().Draw(t, "fenced")})
			case 3, 4:
				before, _ := a.PoolView("eu")
				id := fmt.Sprintf("a%d", rapid.IntRange(0, 8).Draw(t, "id"))
				_, known := a.Allocation("eu", id)
				if err := apply(&Allocate{Region: "eu", ID: id, At: int64(i)}); err == nil && !known {
					got, _ := a.Allocation("eu", id)
					if len(before.ReadyHosts) == 0 || got.Host != before.ReadyHosts[0] {
						t.Fatalf("allocated %s, ready hosts were %v", got.Host, before.ReadyHosts)
					}
				}
			case 5:
				apply(&Deallocate{Region: "eu", Host: name})
			}
			p, _ := a.Pool("eu")
			seen := map[string]bool{}
			for _, al := range p.Allocations {
				if seen[al.Host] {
					t.Fatalf("host %s allocated twice: %+v", al.Host, p.Allocations)
				}
				seen[al.Host] = true
			}
		}
		var sa, sb bytes.Buffer
		a.Snapshot().WriteTo(&sa)
		b.Snapshot().WriteTo(&sb)
		if !bytes.Equal(sa.Bytes(), sb.Bytes()) {
			t.Fatalf("replicas diverged:\n%s\n%s", sa.Bytes(), sb.Bytes())
		}
	})
}
