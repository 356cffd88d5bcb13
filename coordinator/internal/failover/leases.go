package failover

import (
	"sync"
	"time"
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

// Renew records that host holds service's lease at epoch from now on.
// The caller has checked that host is the service's primary at epoch.
func (l *Leases) Renew(service, host string, epoch uint64, now time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	exp := now.Add(l.ttl)
	l.held[service] = lease{host: host, epoch: epoch, expires: exp}
	return exp
}

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
