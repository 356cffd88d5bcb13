package catalog

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Errors returned (as values, not panics) by Apply for commands that are
// well-formed but cannot be applied to the current state.
var (
	ErrNotFound = errors.New("not found")
	ErrInvalid  = errors.New("invalid command")
	// ErrConflict means the command was decided on a view that is no longer
	// current (a compare-and-set failed).
	ErrConflict = errors.New("conflict")
)

// maxPromotions bounds the promotion history kept in the catalogue.
const maxPromotions = 1000

// Catalog is the replicated state. Apply is called by one goroutine (Raft's
// FSM goroutine); the read methods may be called concurrently from any
// goroutine and return copies.
type Catalog struct {
	mu sync.RWMutex // guards everything below
	// index is the Raft index of the last applied entry.
	index uint64
	// changed is closed and replaced after every Apply, waking watchers.
	changed  chan struct{}
	hosts    map[string]*Host
	services map[string]*serviceState
	// promotions is the most recent history, oldest first.
	promotions []Promotion
	// datasets: host + "\x00" + dataset → last report.
	datasets map[string]*DatasetStatus
	cluster  ClusterConfig
	// pools are the standby pools by region (pools.go).
	pools map[string]*poolState
}

// serviceState is a service's failover state and its instances by host.
type serviceState struct {
	Name         string
	Primary      string
	Epoch        uint64
	LastFailover int64
	VacantSince  int64
	instances    map[string]*Instance
}

// New returns an empty catalogue.
func New() *Catalog {
	return &Catalog{
		changed:  make(chan struct{}),
		hosts:    map[string]*Host{},
		services: map[string]*serviceState{},
		datasets: map[string]*DatasetStatus{},
		pools:    map[string]*poolState{},
	}
}

// Apply applies one encoded command at the given Raft index and returns nil
// or an error describing why the command was rejected. A rejected command
// changes nothing but the applied index. Apply panics on an entry it cannot
// decode, because a replica that skipped it would silently diverge from the
// others.
func (c *Catalog) Apply(index uint64, entry []byte) error {
	cmd, err := Decode(entry)
	if err != nil && !errors.Is(err, errIgnored) {
		panic(fmt.Sprintf("catalog: apply index %d: %v", index, err))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index = index
	defer c.notifyLocked()
	if cmd == nil {
		return nil
	}
	switch cmd := cmd.(type) {
	case *UpsertHost:
		return c.upsertHost(index, cmd)
	case *SetHostStatus:
		return c.setHostStatus(index, cmd)
	case *DeleteHost:
		return c.deleteHost(cmd)
	case *RegisterServices:
		return c.registerServices(index, cmd)
	case *SetHealth:
		return c.setHealth(index, cmd)
	case *SetRunning:
		return c.setRunning(index, cmd)
	case *Promote:
		return c.promote(index, cmd)
	case *FenceHost:
		return c.fenceHost(index, cmd)
	case *ClearFence:
		return c.clearFence(index, cmd)
	case *ReportDataset:
		return c.reportDataset(cmd)
	case *SetClusterConfig:
		return c.setClusterConfig(cmd)
	case *RequestRestart:
		return c.requestRestart(index, cmd)
	case *RestoreState:
		return c.restoreState(cmd)
	case *SetPoolPolicy:
		return c.setPoolPolicy(index, cmd)
	case *PoolStep:
		return c.poolStep(index, cmd)
	case *PoolAnswer:
		return c.poolAnswer(index, cmd)
	case *Allocate:
		return c.allocate(index, cmd)
	case *Deallocate:
		return c.deallocate(index, cmd)
	}
	panic(fmt.Sprintf("catalog: no handler for %T", cmd))
}

func (c *Catalog) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Index returns the Raft index of the last applied entry.
func (c *Catalog) Index() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.index
}

// Wait blocks until an entry after index has been applied or ctx is done,
// and returns the current index. It is the basis of blocking queries.
func (c *Catalog) Wait(ctx context.Context, index uint64) uint64 {
	for {
		c.mu.RLock()
		cur, ch := c.index, c.changed
		c.mu.RUnlock()
		if cur > index {
			return cur
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return cur
		}
	}
}
