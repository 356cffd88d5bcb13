package failover

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/understudy/understudy/coordinator/internal/catalog"
)

// Policy holds the failover timings.
type Policy struct {
	// Grace is how long a primary's check must stay critical before the
	// primary counts as down (hosts declared dead by gossip are down at
	// once).
	Grace time.Duration
	// MinInterval is the least time between two automatic failovers of one
	// service caused by checks, against flapping.
	MinInterval time.Duration
}

// DefaultPolicy returns the default timings.
func DefaultPolicy() Policy {
	return Policy{Grace: 3 * time.Second, MinInterval: 30 * time.Second}
}

// Input is what Decide looks at.
type Input struct {
	Now      time.Time
	Services []catalog.Service
	Hosts    []catalog.Host
	// LeaseExpired reports whether a service's primary lease has run out.
	LeaseExpired func(service string) bool
	// Freshness returns when host last had a complete copy of service's
	// data (zero: unknown). Nil treats every standby alike.
	Freshness func(service, host string) time.Time
}

// Decision is a promotion to commit.
type Decision struct {
	Service string
	From    string
	To      string
	// Epoch is the service's epoch the decision was made at.
	Epoch  uint64
	Reason string
}

// Down reports why a service's primary cannot serve, or "" if it can.
func Down(p Policy, now time.Time, svc catalog.Service, hosts map[string]catalog.Host) string {
	if svc.Primary == "" {
		// A new service waits a grace period for its primary to register.
		if now.Sub(time.UnixMilli(svc.VacantSince)) <= p.Grace {
			return ""
		}
		return "no primary"
	}
	h, ok := hosts[svc.Primary]
	switch {
	case !ok:
		return fmt.Sprintf("primary host %s is gone", svc.Primary)
	case h.Fenced:
		return fmt.Sprintf("primary host %s is fenced", svc.Primary)
	case h.Status != catalog.HostAlive:
		return fmt.Sprintf("primary host %s is %s", svc.Primary, h.Status)
	}
	for _, inst := range svc.Instances {
		if inst.Host == svc.Primary && inst.Health == catalog.HealthCritical && inst.Running &&
			now.Sub(time.UnixMilli(inst.HealthSince)) > p.Grace {
			return fmt.Sprintf("check of %s on %s critical for more than %v", svc.Name, svc.Primary, p.Grace)
		}
	}
	return ""
}

// Candidate reports whether an instance may be promoted: on an alive,
// unfenced host, not itself fenced, and not running with a failing check.
func Candidate(inst catalog.Instance, hosts map[string]catalog.Host) bool {
	h, ok := hosts[inst.Host]
	return ok && h.Status == catalog.HostAlive && !h.Fenced && !inst.Fenced &&
		!(inst.Running && inst.Health == catalog.HealthCritical)
}

// Decide returns the promotions to make now.
func Decide(p Policy, in Input) []Decision {
	hosts := make(map[string]catalog.Host, len(in.Hosts))
	for _, h := range in.Hosts {
		hosts[h.Name] = h
	}
	primaries := map[string]int{}
	for _, s := range in.Services {
		if s.Primary != "" {
			primaries[s.Primary]++
		}
	}
	var out []Decision
	for _, s := range in.Services {
		reason := Down(p, in.Now, s, hosts)
		if reason == "" {
			continue
		}
		if s.Primary != "" && in.LeaseExpired != nil && !in.LeaseExpired(s.Name) {
			continue // the old primary may still serve: wait for its lease
		}
		if h, ok := hosts[s.Primary]; ok && h.Status == catalog.HostAlive && !h.Fenced &&
			s.LastFailover != 0 && in.Now.Sub(time.UnixMilli(s.LastFailover)) < p.MinInterval {
			continue // check-driven failover too soon after the last one
		}
		to, ok := pick(s, hosts, primaries, in.Freshness)
		if !ok {
			continue
		}
		primaries[to]++
		out = append(out, Decision{Service: s.Name, From: s.Primary, To: to, Epoch: s.Epoch, Reason: reason})
	}
	return out
}

func pick(s catalog.Service, hosts map[string]catalog.Host, primaries map[string]int,
	fresh func(service, host string) time.Time) (string, bool) {
	var cands []catalog.Instance
	for _, inst := range s.Instances {
		if inst.Host != s.Primary && Candidate(inst, hosts) {
			cands = append(cands, inst)
		}
	}
	if len(cands) == 0 {
		return "", false
	}
	freshness := func(h string) time.Time {
		if fresh == nil {
			return time.Time{}
		}
		return fresh(s.Name, h)
	}
	best := slices.MinFunc(cands, func(a, b catalog.Instance) int {
		if c := freshness(b.Host).Compare(freshness(a.Host)); c != 0 {
			return c // fresher first
		}
		if c := cmp.Compare(primaries[a.Host], primaries[b.Host]); c != 0 {
			return c
		}
		return cmp.Compare(a.Host, b.Host)
	})
	return best.Host, true
}

// Standby picks the best standby for a planned switchover of svc.
func Standby(svc catalog.Service, hosts []catalog.Host, services []catalog.Service,
	fresh func(service, host string) time.Time) (string, bool) {
	hm := make(map[string]catalog.Host, len(hosts))
	for _, h := range hosts {
		hm[h.Name] = h
	}
	primaries := map[string]int{}
	for _, s := range services {
		if s.Primary != "" {
			primaries[s.Primary]++
		}
	}
	return pick(svc, hm, primaries, fresh)
}
