package login

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/understudy/understudy/coordinator/internal/catalog"
)

// View is the read-only part of the catalogue that the front routes from.
// *catalog.Catalog satisfies it.
//
// Every method is called on the request path, concurrently, and must not
// block on the network: routes come from the local replica, so logins keep
// flowing while there is no Raft leader. Returned values belong to the
// caller, who only reads them.
type View interface {
	// Services returns every service with its instances. It is called
	// only when Index has moved since the last call.
	Services() []catalog.Service
	// Healthy returns the service's instances that may receive traffic
	// (passing, on an alive and unfenced host, not fenced), primary first,
	// with their hosts' addresses. The bool reports whether the service
	// exists.
	Healthy(service string) ([]catalog.Endpoint, bool)
	// Host returns one host by name.
	Host(name string) (catalog.Host, bool)
	// Index returns the Raft index of the last applied entry. Which service
	// is a grid's login service is worked out again whenever it moves, so
	// every change to what Services returns must move it.
	Index() uint64
}

// LoginTag marks a service as a grid's login service when it is not named
// "login".
const LoginTag = "login"

// Errors returned by [Handler.Route], to branch on with errors.Is.
var (
	// ErrUnknownGrid means no service in the catalogue is the grid's login
	// service.
	ErrUnknownGrid = errors.New("unknown grid")
	// ErrAmbiguousGrid means several services claim to be the grid's login
	// service, so the front cannot choose.
	ErrAmbiguousGrid = errors.New("grid has several login services")
	// ErrUnavailable means the grid's login service has no instance that
	// could take a login.
	ErrUnavailable = errors.New("grid login unavailable")
)

// Target is where a login for a grid goes first, as served by
// GET /v1/route/GRID.
type Target struct {
	Grid    string `json:"grid"`
	Service string `json:"service"`
	Host    string `json:"host"`
	// Address is IP:PORT of the instance.
	Address string `json:"address"`
	// Primary is true when the instance is on the service's primary host.
	Primary bool `json:"primary"`
	// Epoch is the service's fencing token.
	Epoch uint64 `json:"epoch"`
	// Healthy is false when no instance is known to be healthy and the
	// front falls back to one that is merely on an alive host.
	Healthy bool `json:"healthy"`
}

// gridService is what the catalogue says about one grid's login service at
// one index.
type gridService struct {
	service string
	epoch   uint64
	err     error              // ErrAmbiguousGrid, with the names
	insts   []catalog.Instance // the grid's instances, primary first
}

// routeTable maps grid names to their login service at one catalogue index.
type routeTable struct {
	index uint64
	grids map[string]*gridService
}

// router finds a grid's login service and its candidate instances.
type router struct {
	view  View
	table atomic.Pointer[routeTable]
}

// lookup returns the grid's login service as of the view's current index.
func (r *router) lookup(grid string) (*gridService, error) {
	idx := r.view.Index()
	t := r.table.Load()
	if t == nil || t.index != idx {
		// Two requests may rebuild at once; both results are right for idx.
		t = buildTable(idx, r.view.Services())
		r.table.Store(t)
	}
	gs := t.grids[grid]
	switch {
	case gs == nil:
		return nil, fmt.Errorf("%w %q: no service named %q or tagged %q has instances in it", ErrUnknownGrid, grid, LoginTag, LoginTag)
	case gs.err != nil:
		return nil, gs.err
	}
	return gs, nil
}

// isLogin reports whether inst makes its service a login service.
func isLogin(inst *catalog.Instance) bool {
	return inst.Service == LoginTag || slices.Contains(inst.Tags, LoginTag)
}

// buildTable works out every grid's login service: the service named
// "login" or tagged "login" that has instances with that grid.
func buildTable(index uint64, svcs []catalog.Service) *routeTable {
	t := &routeTable{index: index, grids: map[string]*gridService{}}
	claims := map[string][]string{} // grid → service names, in name order
	for _, s := range svcs {
		for i := range s.Instances {
			inst := &s.Instances[i]
			if inst.Grid == "" || !isLogin(inst) {
				continue
			}
			if names := claims[inst.Grid]; len(names) == 0 || names[len(names)-1] != s.Name {
				claims[inst.Grid] = append(names, s.Name)
			}
			gs := t.grids[inst.Grid]
			if gs == nil {
				gs = &gridService{service: s.Name, epoch: s.Epoch}
				t.grids[inst.Grid] = gs
			}
			if gs.service == s.Name {
				gs.insts = append(gs.insts, *inst)
			}
		}
	}
	for grid, names := range claims {
		if len(names) > 1 {
			t.grids[grid] = &gridService{err: fmt.Errorf("%w: grid %q: %s all claim it; keep one named %q or tagged %q",
				ErrAmbiguousGrid, grid, strings.Join(names, ", "), LoginTag, LoginTag)}
		}
	}
	return t
}

// candidate is one instance a request may be sent to.
type candidate struct {
	host    string
	addr    string // IP:PORT
	primary bool
	healthy bool
}

// candidates returns where a login for grid may go, in the order to try:
// the healthy instances (primary first), then, as a last resort, the
// others that are not fenced and whose host is alive and not fenced
// (warning before critical, primary first). The last resort covers a check
// that lags behind a service that is already back: a login tried there
// can still succeed, where the alternative is a certain failure. Fenced
// instances are never tried, since their data may be stale.
func (r *router) candidates(grid string, gs *gridService) []candidate {
	eps, _ := r.view.Healthy(gs.service)
	out := make([]candidate, 0, len(gs.insts))
	for _, ep := range eps {
		if ep.Grid != grid {
			continue
		}
		if addr, ok := address(ep.Address, ep.Port); ok {
			out = append(out, candidate{host: ep.Host, addr: addr, primary: ep.Primary, healthy: true})
		}
	}
	var rest []candidate
	var warning []bool
	for i := range gs.insts {
		inst := &gs.insts[i]
		if inst.Fenced || slices.ContainsFunc(out, func(c candidate) bool { return c.host == inst.Host }) {
			continue
		}
		h, ok := r.view.Host(inst.Host)
		if !ok || h.Status != catalog.HostAlive || h.Fenced {
			continue
		}
		if addr, ok := address(h.Address, inst.Port); ok {
			rest = append(rest, candidate{host: inst.Host, addr: addr, primary: inst.Primary})
			warning = append(warning, inst.Health == catalog.HealthWarning)
		}
	}
	// Stable: within each health class the catalogue's order (primary
	// first, then by host) stays.
	for _, w := range []bool{true, false} {
		for i, c := range rest {
			if warning[i] == w {
				out = append(out, c)
			}
		}
	}
	return out
}

// address joins a catalogue address and port, refusing what cannot be
// dialled.
func address(ip string, port int) (string, bool) {
	if ip == "" || port <= 0 || port > 65535 {
		return "", false
	}
	return net.JoinHostPort(ip, strconv.Itoa(port)), true
}

// route returns the first candidate for grid as a [Target].
func (r *router) route(grid string) (Target, error) {
	gs, err := r.lookup(grid)
	if err != nil {
		return Target{}, err
	}
	cs := r.candidates(grid, gs)
	if len(cs) == 0 {
		return Target{}, fmt.Errorf("%w: grid %q: service %s has no instance on an alive host", ErrUnavailable, grid, gs.service)
	}
	c := cs[0]
	return Target{Grid: grid, Service: gs.service, Host: c.host, Address: c.addr, Primary: c.primary,
		Epoch: gs.epoch, Healthy: c.healthy}, nil
}
