package failover

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/understudy/understudy/coordinator/internal/catalog"
)

// Leases is the leader's table of primaries' leases. It is safe for
// concurrent use.
type Leases struct {
	ttl time.Duration

	mu sync.Mutex // guards the fields below
	// floor: every service counts as leased until then (one TTL after this
	// table was created, that is, after this node became leader).
	floor time.Time
	held  map[string]lease // by service
}

type lease struct {
	host    string
	epoch   uint64
	expires time.Time
}

// NewLeases returns an empty table for a leader that took over at now.
func NewLeases(ttl time.Duration, now time.Time) *Leases {
	return &Leases{ttl: ttl, floor: now.Add(ttl), held: map[string]lease{}}
}

// TTL is the lease duration.
func (l *Leases) TTL() time.Duration { return l.ttl }

// Expired reports whether nobody can hold service's lease at now.
func (l *Leases) Expired(service string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.floor) {
		return false
	}
	le, ok := l.held[service]
	return !ok || !now.Before(le.expires)
}

// Release forgets a service's lease, for a primary that stopped cleanly.
func (l *Leases) Release(service, host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if le, ok := l.held[service]; ok && le.host == host {
		delete(l.held, service)
	}
}

// ErrNotHolder means the host may not hold the lease: it is not the
// service's primary at that epoch, it is fenced or not alive, its check has
// failed for too long, or another host still holds the lease.
var ErrNotHolder = errors.New("lease refused")

// Grant checks that host may serve svc at epoch and, if so, grants or
// renews its lease and returns the TTL.
func (l *Leases) Grant(p Policy, now time.Time, svc catalog.Service, h catalog.Host, host string, epoch uint64) (time.Duration, error) {
	if ttl, ok := l.handover(now, svc, h, host, epoch); ok {
		return ttl, nil
	}
	switch {
	case svc.Primary != host || svc.Epoch != epoch:
		return 0, fmt.Errorf("%w: %s is primary of %s at epoch %d, not %s at %d", ErrNotHolder, orNone(svc.Primary), svc.Name, svc.Epoch, host, epoch)
	case h.Fenced:
		return 0, fmt.Errorf("%w: host %s is fenced", ErrNotHolder, host)
	case h.Status != catalog.HostAlive:
		return 0, fmt.Errorf("%w: host %s is %s in gossip", ErrNotHolder, host, h.Status)
	}
	for _, inst := range svc.Instances {
		if inst.Host == host && inst.Fenced {
			return 0, fmt.Errorf("%w: instance of %s on %s is fenced", ErrNotHolder, svc.Name, host)
		}
	}
	if why := Down(p, now, svc, map[string]catalog.Host{host: h}); why != "" {
		return 0, fmt.Errorf("%w: %s", ErrNotHolder, why)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if le, ok := l.held[svc.Name]; ok && le.host != host && now.Before(le.expires) {
		return 0, fmt.Errorf("%w: %s still holds the lease of %s for %v", ErrNotHolder, le.host, svc.Name, le.expires.Sub(now).Round(time.Millisecond))
	}
	l.held[svc.Name] = lease{host: host, epoch: epoch, expires: now.Add(l.ttl)}
	return l.ttl, nil
}

// handover renews the lease of a former primary that is handing over in a
// planned switchover: it still holds the previous epoch's lease, its
// instance was not fenced (an automatic failover fences), and it keeps the
// lease while it stops and syncs its data to the new primary, which cannot
// start until the lease is released or runs out.
func (l *Leases) handover(now time.Time, svc catalog.Service, h catalog.Host, host string, epoch uint64) (time.Duration, bool) {
	if svc.Primary == host || svc.Epoch != epoch+1 || h.Fenced || h.Status != catalog.HostAlive {
		return 0, false
	}
	for _, inst := range svc.Instances {
		if inst.Host == host && inst.Fenced {
			return 0, false
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	le, ok := l.held[svc.Name]
	if !ok || le.host != host || le.epoch != epoch || !now.Before(le.expires) {
		return 0, false
	}
	l.held[svc.Name] = lease{host: host, epoch: epoch, expires: now.Add(l.ttl)}
	return l.ttl, true
}

func orNone(s string) string {
	if s == "" {
		return "nobody"
	}
	return s
}
