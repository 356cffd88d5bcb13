package catalog

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/understudy/understudy/coordinator/internal/standby"
)

// A region's standby pool lives here: its policy, the controller state the
// leader commits, the provisioner requests still open and the hosts
// allocated from it. Which host an allocation gets is decided inside Apply,
// so that concurrent allocations serialise in the log and never hand out one
// host twice.
//
// The policy is validated in Apply with [standby.Policy.Validate], a pure
// function. Tightening those rules changes which logged commands apply, so a
// stricter Validate needs a new command type rather than a change in place.

// ErrNoStandby is returned by Apply for an [Allocate] that finds no ready
// standby host.
var ErrNoStandby = errors.New("no ready standby host")

// Request kinds of a [PoolRequest], as sent to the provisioner hook.
const (
	RequestProvision = "provision"
	RequestRelease   = "release"
)

// Pool is a region's standby pool.
type Pool struct {
	Region string         `json:"region"`
	Policy standby.Policy `json:"policy"`
	// State is the controller's state as the leader last committed it.
	State standby.State `json:"state"`
	// Target is the standby target the leader last committed.
	Target int `json:"target"`
	// Epoch is the Raft index at which the pool was created; with
	// NextRequest it makes provisioner request ids unique for ever.
	Epoch uint64 `json:"epoch"`
	// Generation rises with every controller step, policy change and
	// provisioner answer; a [PoolStep] applies only at the generation it
	// was decided on.
	Generation  uint64 `json:"generation"`
	NextRequest uint64 `json:"next_request"`
	// Requests are the open provisioner requests, oldest first.
	Requests []PoolRequest `json:"requests,omitempty"`
	// Allocations are the hosts handed out, by host name.
	Allocations []Allocation `json:"allocations,omitempty"`
	ModifyIndex uint64       `json:"modify_index"`
}

// PoolRequest is a provisioner request the pool waits on. Its ID is what
// the hook receives, so a leader that repeats it after a leader change
// repeats the same request.
type PoolRequest struct {
	ID   string `json:"id"`
	Kind string `json:"kind"` // RequestProvision or RequestRelease
	// Count is how many servers a provision request asked for.
	Count int `json:"count,omitempty"`
	// Hosts are the hosts to release, or the hosts the hook said it
	// provisions.
	Hosts  []string `json:"hosts,omitempty"`
	Reason string   `json:"reason,omitempty"`
	// At is when the request was decided (Unix milliseconds).
	At int64 `json:"at"`
	// Answered is set once the hook accepted the request.
	Answered   bool  `json:"answered,omitempty"`
	AnsweredAt int64 `json:"answered_at,omitempty"`
}

// Allocation is a host handed out by [Allocate].
type Allocation struct {
	Host    string `json:"host"`
	Service string `json:"service,omitempty"`
	// ID is the allocation request's id; repeating an [Allocate] with it
	// returns the same host.
	ID    string `json:"id"`
	At    int64  `json:"at"`
	Index uint64 `json:"index"`
}

// SetPoolPolicy creates a region's pool or replaces its policy. The
// controller state, open requests and allocations are kept.
type SetPoolPolicy struct {
	Region string         `json:"region"`
	Policy standby.Policy `json:"policy"`
	At     int64          `json:"at"`
}

// PoolStep records one controller decision of the leader: the new state,
// and the provisioner requests it opens and closes. It applies only at
// Generation (compare-and-set), so a decision taken on a stale view, or by
// a former leader, is rejected with [ErrConflict].
type PoolStep struct {
	Region     string        `json:"region"`
	Generation uint64        `json:"generation"`
	State      standby.State `json:"state"`
	Target     int           `json:"target"`
	// Provision opens a request for this many new standby servers.
	Provision int `json:"provision,omitempty"`
	// Release opens a request giving back these idle standby hosts.
	Release []string `json:"release,omitempty"`
	// Close drops open requests: complete, refused or timed out.
	Close  []string `json:"close,omitempty"`
	Reason string   `json:"reason,omitempty"`
	At     int64    `json:"at"`
}

// PoolAnswer records the provisioner's answer to an open request. A
// repeated answer changes nothing. With Refused set the request is
// dropped: the controller asks again for what is still missing, under a
// new id.
type PoolAnswer struct {
	Region string `json:"region"`
	ID     string `json:"id"`
	// Hosts are the servers the hook says it provisions; empty when it
	// does not say.
	Hosts   []string `json:"hosts,omitempty"`
	Refused string   `json:"refused,omitempty"`
	At      int64    `json:"at"`
}

// Allocate hands out one ready standby host of Region: alive, unfenced,
// with role standby, neither allocated nor being released. With Service
// set the host must carry an unfenced instance of it, and the host whose
// mirrors of the service are freshest wins; otherwise the host with the
// lowest name wins. An ID already allocated applies as a no-op, so a
// retried request gets the same host.
type Allocate struct {
	Region  string `json:"region"`
	Service string `json:"service,omitempty"`
	ID      string `json:"id"`
	At      int64  `json:"at"`
}

// Deallocate returns an allocated host to the pool's ready standby.
type Deallocate struct {
	Region string `json:"region"`
	Host   string `json:"host"`
	At     int64  `json:"at"`
}

func (SetPoolPolicy) commandType() CommandType { return CmdSetPoolPolicy }
func (PoolStep) commandType() CommandType      { return CmdPoolStep }
func (PoolAnswer) commandType() CommandType    { return CmdPoolAnswer }
func (Allocate) commandType() CommandType      { return CmdAllocate }
func (Deallocate) commandType() CommandType    { return CmdDeallocate }

// poolState is a pool with its allocations indexed.
type poolState struct {
	Pool
	allocs map[string]*Allocation // by host
	byID   map[string]string      // allocation id → host
}

func newPoolState(p Pool) *poolState {
	ps := &poolState{Pool: p, allocs: map[string]*Allocation{}, byID: map[string]string{}}
	for i := range p.Allocations {
		a := p.Allocations[i]
		ps.allocs[a.Host] = &a
		ps.byID[a.ID] = a.Host
	}
	ps.Allocations = nil
	return ps
}

// copy returns the pool with its allocations sorted by host.
func (ps *poolState) copy() Pool {
	p := ps.Pool
	p.Policy.DynamicStandby.Thresholds = slices.Clone(p.Policy.DynamicStandby.Thresholds)
	p.Requests = make([]PoolRequest, len(ps.Requests))
	for i, r := range ps.Requests {
		r.Hosts = slices.Clone(r.Hosts)
		p.Requests[i] = r
	}
	p.Allocations = make([]Allocation, 0, len(ps.allocs))
	for _, h := range slices.Sorted(maps.Keys(ps.allocs)) {
		p.Allocations = append(p.Allocations, *ps.allocs[h])
	}
	return p
}

// releasing returns the hosts named by open release requests.
func (ps *poolState) releasing() map[string]bool {
	var out map[string]bool
	for _, r := range ps.Requests {
		if r.Kind != RequestRelease {
			continue
		}
		if out == nil {
			out = map[string]bool{}
		}
		for _, h := range r.Hosts {
			out[h] = true
		}
	}
	return out
}

func (ps *poolState) request(id string) int {
	return slices.IndexFunc(ps.Requests, func(r PoolRequest) bool { return r.ID == id })
}

func (c *Catalog) pool(region string) (*poolState, error) {
	ps := c.pools[region]
	if ps == nil {
		return nil, fmt.Errorf("pool %s: %w", region, ErrNotFound)
	}
	return ps, nil
}

func (c *Catalog) setPoolPolicy(index uint64, cmd *SetPoolPolicy) error {
	if cmd.Region == "" {
		return fmt.Errorf("%w: pool region is empty", ErrInvalid)
	}
	if err := cmd.Policy.Validate(); err != nil {
		return fmt.Errorf("%w: pool %s: %w", ErrInvalid, cmd.Region, err)
	}
	ps := c.pools[cmd.Region]
	if ps == nil {
		ps = newPoolState(Pool{Region: cmd.Region, Epoch: index})
		c.pools[cmd.Region] = ps
	}
	ps.Policy = cmd.Policy
	ps.Policy.DynamicStandby.Thresholds = slices.Clone(cmd.Policy.DynamicStandby.Thresholds)
	ps.Target = ps.State.Target(ps.Policy)
	ps.Generation++
	ps.ModifyIndex = index
	return nil
}

func (c *Catalog) poolStep(index uint64, cmd *PoolStep) error {
	ps, err := c.pool(cmd.Region)
	if err != nil {
		return err
	}
	if ps.Generation != cmd.Generation {
		return fmt.Errorf("%w: pool %s is at generation %d, not %d", ErrConflict, cmd.Region, ps.Generation, cmd.Generation)
	}
	if cmd.Provision < 0 {
		return fmt.Errorf("%w: pool %s: provision count %d is negative", ErrInvalid, cmd.Region, cmd.Provision)
	}
	for _, id := range cmd.Close {
		if ps.request(id) < 0 {
			return fmt.Errorf("%w: pool %s has no open request %s", ErrConflict, cmd.Region, id)
		}
	}
	releasing := ps.releasing()
	seen := map[string]bool{}
	for _, name := range cmd.Release {
		h := c.hosts[name]
		switch {
		case h == nil || h.Region != cmd.Region || h.Role != RoleStandby:
			return fmt.Errorf("%w: pool %s: %s is not a standby host of the region", ErrConflict, cmd.Region, name)
		case ps.allocs[name] != nil:
			return fmt.Errorf("%w: pool %s: %s is allocated", ErrConflict, cmd.Region, name)
		case releasing[name] || seen[name]:
			return fmt.Errorf("%w: pool %s: %s is already being released", ErrConflict, cmd.Region, name)
		}
		seen[name] = true
	}
	if len(cmd.Close) > 0 {
		ps.Requests = slices.DeleteFunc(ps.Requests, func(r PoolRequest) bool { return slices.Contains(cmd.Close, r.ID) })
	}
	if cmd.Provision > 0 {
		ps.Requests = append(ps.Requests, PoolRequest{ID: ps.nextID(RequestProvision), Kind: RequestProvision,
			Count: cmd.Provision, Reason: cmd.Reason, At: cmd.At})
	}
	if len(cmd.Release) > 0 {
		ps.Requests = append(ps.Requests, PoolRequest{ID: ps.nextID(RequestRelease), Kind: RequestRelease,
			Count: len(cmd.Release), Hosts: slices.Clone(cmd.Release), Reason: cmd.Reason, At: cmd.At})
	}
	ps.State, ps.Target = cmd.State, cmd.Target
	ps.Generation++
	ps.ModifyIndex = index
	return nil
}

// nextID returns the id of the pool's next provisioner request: region,
// kind, pool epoch and sequence number.
func (ps *poolState) nextID(kind string) string {
	ps.NextRequest++
	return fmt.Sprintf("%s/%s/%d.%d", ps.Region, kind, ps.Epoch, ps.NextRequest)
}

func (c *Catalog) poolAnswer(index uint64, cmd *PoolAnswer) error {
	ps, err := c.pool(cmd.Region)
	if err != nil {
		return err
	}
	i := ps.request(cmd.ID)
	if i < 0 {
		return fmt.Errorf("pool %s: request %s: %w", cmd.Region, cmd.ID, ErrNotFound)
	}
	r := &ps.Requests[i]
	if r.Answered {
		return nil
	}
	if cmd.Refused != "" {
		ps.Requests = slices.Delete(ps.Requests, i, i+1)
	} else {
		r.Answered, r.AnsweredAt = true, cmd.At
		if r.Kind == RequestProvision {
			r.Hosts = slices.Clone(cmd.Hosts)
		}
	}
	ps.Generation++
	ps.ModifyIndex = index
	return nil
}

// readyLocked reports whether h may be allocated from ps.
func readyLocked(ps *poolState, h *Host, releasing map[string]bool) bool {
	return h.Region == ps.Region && h.Role == RoleStandby && h.Status == HostAlive && !h.Fenced &&
		ps.allocs[h.Name] == nil && !releasing[h.Name]
}

func (c *Catalog) allocate(index uint64, cmd *Allocate) error {
	if cmd.ID == "" {
		return fmt.Errorf("%w: allocation id is empty", ErrInvalid)
	}
	ps, err := c.pool(cmd.Region)
	if err != nil {
		return err
	}
	if _, ok := ps.byID[cmd.ID]; ok {
		return nil
	}
	var svc *serviceState
	var fresh map[string]int64
	if cmd.Service != "" {
		if svc = c.services[cmd.Service]; svc == nil {
			return fmt.Errorf("service %s: %w", cmd.Service, ErrNotFound)
		}
		fresh = c.freshnessLocked(cmd.Service)
	}
	releasing := ps.releasing()
	var best *Host
	for _, h := range c.hosts {
		if !readyLocked(ps, h, releasing) {
			continue
		}
		if svc != nil {
			if inst := svc.instances[h.Name]; inst == nil || inst.Fenced {
				continue
			}
		}
		if best == nil || fresh[h.Name] > fresh[best.Name] ||
			(fresh[h.Name] == fresh[best.Name] && h.Name < best.Name) {
			best = h
		}
	}
	if best == nil {
		if cmd.Service != "" {
			return fmt.Errorf("%w for %s in region %s", ErrNoStandby, cmd.Service, cmd.Region)
		}
		return fmt.Errorf("%w in region %s", ErrNoStandby, cmd.Region)
	}
	ps.allocs[best.Name] = &Allocation{Host: best.Name, Service: cmd.Service, ID: cmd.ID, At: cmd.At, Index: index}
	ps.byID[cmd.ID] = best.Name
	ps.ModifyIndex = index
	return nil
}

// freshnessLocked maps each host to the oldest last complete copy among
// its datasets of service, as [Catalog.Freshness] computes it.
func (c *Catalog) freshnessLocked(service string) map[string]int64 {
	out := map[string]int64{}
	for _, d := range c.datasets {
		if d.Service != service {
			continue
		}
		t := d.LastMirror
		if d.Replica == "source" {
			t = d.LastSnapshot
		}
		if cur, ok := out[d.Host]; !ok || t < cur {
			out[d.Host] = t
		}
	}
	return out
}

func (c *Catalog) deallocate(index uint64, cmd *Deallocate) error {
	ps, err := c.pool(cmd.Region)
	if err != nil {
		return err
	}
	a := ps.allocs[cmd.Host]
	if a == nil {
		return fmt.Errorf("allocation of %s in pool %s: %w", cmd.Host, cmd.Region, ErrNotFound)
	}
	delete(ps.byID, a.ID)
	delete(ps.allocs, cmd.Host)
	ps.ModifyIndex = index
	return nil
}

// Pools returns every pool, sorted by region.
func (c *Catalog) Pools() []Pool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Pool, 0, len(c.pools))
	for _, r := range slices.Sorted(maps.Keys(c.pools)) {
		out = append(out, c.pools[r].copy())
	}
	return out
}

// Pool returns one region's pool.
func (c *Catalog) Pool(region string) (Pool, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ps, ok := c.pools[region]
	if !ok {
		return Pool{}, false
	}
	return ps.copy(), true
}

// Allocation returns the allocation made under id in region.
func (c *Catalog) Allocation(region, id string) (Allocation, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ps, ok := c.pools[region]
	if !ok {
		return Allocation{}, false
	}
	h, ok := ps.byID[id]
	if !ok {
		return Allocation{}, false
	}
	return *ps.allocs[h], true
}

// PoolView is a pool with what the controller observes in it.
type PoolView struct {
	Pool
	// Observation counts the region's hosts:
	//   - Active: alive hosts with role active, and alive allocated hosts;
	//   - Ready: alive, unfenced standby hosts neither allocated nor being
	//     released (the hosts [Allocate] may hand out);
	//   - Booting: servers of open provision requests that have not joined
	//     yet (see [PoolRequestView]).
	Observation standby.Observation `json:"observation"`
	// ReadyHosts names the ready hosts, sorted.
	ReadyHosts []string `json:"ready_hosts"`
	// Progress is each open request's progress, in the order of Requests.
	Progress []PoolRequestView `json:"progress,omitempty"`
}

// PoolRequestView is the progress of an open provisioner request.
//
// A provision request counts Count servers as booting until the hook
// answers. If the answer names hosts, those not yet in the catalogue are
// booting. If it names none, standby hosts of the region that came alive
// at or after the request and that no request names are credited to the
// oldest such requests first, and the rest of Count is booting. A release
// request is complete once it is answered and none of its hosts is alive.
type PoolRequestView struct {
	ID      string `json:"id"`
	Booting int    `json:"booting"`
	Done    bool   `json:"done"`
}

// PoolView returns region's pool with its observation.
func (c *Catalog) PoolView(region string) (PoolView, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ps, ok := c.pools[region]
	if !ok {
		return PoolView{}, false
	}
	v := PoolView{Pool: ps.copy(), ReadyHosts: []string{}}
	releasing := ps.releasing()
	named := map[string]bool{}
	for _, r := range ps.Requests {
		for _, h := range r.Hosts {
			named[h] = true
		}
	}
	// Newcomers: alive standby hosts that no request names, by the time
	// they came alive, for requests whose answer names no host.
	type newcomer struct {
		name  string
		since int64
	}
	var newcomers []newcomer
	for _, h := range c.hosts {
		if h.Region != region || h.Status != HostAlive {
			continue
		}
		switch {
		case h.Role == RoleActive || ps.allocs[h.Name] != nil:
			v.Observation.Active++
		case readyLocked(ps, h, releasing):
			v.Observation.Ready++
			v.ReadyHosts = append(v.ReadyHosts, h.Name)
		}
		if h.Role == RoleStandby && !named[h.Name] {
			newcomers = append(newcomers, newcomer{h.Name, h.StatusSince})
		}
	}
	slices.Sort(v.ReadyHosts)
	slices.SortFunc(newcomers, func(a, b newcomer) int {
		if a.since != b.since {
			if a.since < b.since {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	credited := map[string]bool{}
	for _, r := range ps.Requests {
		pv := PoolRequestView{ID: r.ID}
		switch {
		case r.Kind == RequestRelease:
			pv.Done = r.Answered
			for _, h := range r.Hosts {
				if hh := c.hosts[h]; hh != nil && hh.Status == HostAlive {
					pv.Done = false
				}
			}
		case !r.Answered:
			pv.Booting = r.Count
		case len(r.Hosts) > 0:
			for _, h := range r.Hosts {
				if c.hosts[h] == nil {
					pv.Booting++
				}
			}
			pv.Done = pv.Booting == 0
		default:
			pv.Booting = r.Count
			for _, n := range newcomers {
				if pv.Booting == 0 {
					break
				}
				if n.since >= r.At && !credited[n.name] {
					credited[n.name] = true
					pv.Booting--
				}
			}
			pv.Done = pv.Booting == 0
		}
		v.Observation.Booting += pv.Booting
		v.Progress = append(v.Progress, pv)
	}
	return v, true
}

func (c *Catalog) snapshotPoolsLocked() []Pool {
	out := make([]Pool, 0, len(c.pools))
	for _, r := range slices.Sorted(maps.Keys(c.pools)) {
		out = append(out, c.pools[r].copy())
	}
	return out
}

func restorePools(in []Pool) map[string]*poolState {
	out := make(map[string]*poolState, len(in))
	for _, p := range in {
		out[p.Region] = newPoolState(p)
	}
	return out
}
