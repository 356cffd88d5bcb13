package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
)

// Errors returned (as values, not panics) by Apply for commands that are
// well-formed but cannot be applied to the current state.
var (
	ErrNotFound = errors.New("not found")
	ErrInvalid  = errors.New("invalid command")
)

// Catalog is the replicated state. Apply is called by one goroutine (Raft's
// FSM goroutine); the read methods may be called concurrently from any
// goroutine and return copies.
type Catalog struct {
	mu sync.RWMutex // guards everything below
	// index is the Raft index of the last applied entry.
	index uint64
	hosts map[string]*Host
	// instances: service name → host name → instance.
	instances map[string]map[string]*Instance
}

// New returns an empty catalogue.
func New() *Catalog {
	return &Catalog{
		hosts:     map[string]*Host{},
		instances: map[string]map[string]*Instance{},
	}
}

// Apply applies one encoded command at the given Raft index and returns nil
// or an error describing why the command was rejected. A rejected command
// changes nothing. Apply panics on an entry it cannot decode, because a
// replica that skipped it would silently diverge from the others.
func (c *Catalog) Apply(index uint64, entry []byte) error {
	cmd, err := Decode(entry)
	if errors.Is(err, errIgnored) {
		c.mu.Lock()
		c.index = index
		c.mu.Unlock()
		return nil
	}
	if err != nil {
		panic(fmt.Sprintf("catalog: apply index %d: %v", index, err))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index = index
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
	}
	panic(fmt.Sprintf("catalog: no handler for %T", cmd))
}

func (c *Catalog) upsertHost(index uint64, cmd *UpsertHost) error {
	if cmd.Name == "" {
		return fmt.Errorf("%w: host name is empty", ErrInvalid)
	}
	if cmd.Role != "" && !cmd.Role.Valid() {
		return fmt.Errorf("%w: host %s: unknown role %q", ErrInvalid, cmd.Name, cmd.Role)
	}
	h, ok := c.hosts[cmd.Name]
	if !ok {
		h = &Host{Name: cmd.Name, Status: HostAlive, StatusSince: cmd.At}
		c.hosts[cmd.Name] = h
	}
	h.Region, h.Role, h.Address, h.Version = cmd.Region, cmd.Role, cmd.Address, cmd.Version
	h.ModifyIndex = index
	return nil
}

func (c *Catalog) setHostStatus(index uint64, cmd *SetHostStatus) error {
	if !cmd.Status.Valid() {
		return fmt.Errorf("%w: host %s: unknown status %q", ErrInvalid, cmd.Name, cmd.Status)
	}
	h, ok := c.hosts[cmd.Name]
	if !ok {
		return fmt.Errorf("host %s: %w", cmd.Name, ErrNotFound)
	}
	if h.Status != cmd.Status {
		h.Status, h.StatusSince = cmd.Status, cmd.At
		h.ModifyIndex = index
	}
	return nil
}

func (c *Catalog) deleteHost(cmd *DeleteHost) error {
	if _, ok := c.hosts[cmd.Name]; !ok {
		return fmt.Errorf("host %s: %w", cmd.Name, ErrNotFound)
	}
	delete(c.hosts, cmd.Name)
	for svc, byHost := range c.instances {
		delete(byHost, cmd.Name)
		if len(byHost) == 0 {
			delete(c.instances, svc)
		}
	}
	return nil
}

func (c *Catalog) registerServices(index uint64, cmd *RegisterServices) error {
	if u := cmd.Upsert; u != nil && u.Name != cmd.Host {
		return fmt.Errorf("%w: registration for %s describes host %q", ErrInvalid, cmd.Host, u.Name)
	}
	if _, ok := c.hosts[cmd.Host]; !ok && cmd.Upsert == nil {
		return fmt.Errorf("host %s: %w", cmd.Host, ErrNotFound)
	}
	seen := map[string]bool{}
	for _, s := range cmd.Services {
		switch {
		case s.Name == "":
			return fmt.Errorf("%w: host %s: service name is empty", ErrInvalid, cmd.Host)
		case seen[s.Name]:
			return fmt.Errorf("%w: host %s: service %s listed twice", ErrInvalid, cmd.Host, s.Name)
		case s.Port < 0 || s.Port > 65535:
			return fmt.Errorf("%w: service %s: port %d out of range", ErrInvalid, s.Name, s.Port)
		}
		seen[s.Name] = true
	}
	if cmd.Upsert != nil {
		if err := c.upsertHost(index, cmd.Upsert); err != nil {
			return err
		}
	}
	for svc, byHost := range c.instances {
		if !seen[svc] {
			delete(byHost, cmd.Host)
			if len(byHost) == 0 {
				delete(c.instances, svc)
			}
		}
	}
	for _, s := range cmd.Services {
		byHost := c.instances[s.Name]
		if byHost == nil {
			byHost = map[string]*Instance{}
			c.instances[s.Name] = byHost
		}
		inst, ok := byHost[cmd.Host]
		if !ok {
			inst = &Instance{Service: s.Name, Host: cmd.Host, Health: HealthPassing}
			byHost[cmd.Host] = inst
		}
		inst.Grid, inst.Port, inst.Primary = s.Grid, s.Port, s.Primary
		inst.Tags = slices.Clone(s.Tags)
		inst.ModifyIndex = index
	}
	return nil
}

func (c *Catalog) setHealth(index uint64, cmd *SetHealth) error {
	if !cmd.Health.Valid() {
		return fmt.Errorf("%w: unknown health %q", ErrInvalid, cmd.Health)
	}
	inst, ok := c.instances[cmd.Service][cmd.Host]
	if !ok {
		return fmt.Errorf("instance %s on %s: %w", cmd.Service, cmd.Host, ErrNotFound)
	}
	if inst.Health != cmd.Health {
		inst.Health = cmd.Health
		inst.ModifyIndex = index
	}
	return nil
}

// Index returns the Raft index of the last applied entry.
func (c *Catalog) Index() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.index
}

// Hosts returns every host, sorted by name.
func (c *Catalog) Hosts() []Host {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Host, 0, len(c.hosts))
	for _, name := range slices.Sorted(maps.Keys(c.hosts)) {
		out = append(out, *c.hosts[name])
	}
	return out
}

// Host returns one host.
func (c *Catalog) Host(name string) (Host, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	h, ok := c.hosts[name]
	if !ok {
		return Host{}, false
	}
	return *h, true
}

// Services returns every service with its instances, sorted by name.
func (c *Catalog) Services() []Service {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Service, 0, len(c.instances))
	for _, name := range slices.Sorted(maps.Keys(c.instances)) {
		out = append(out, c.serviceLocked(name))
	}
	return out
}

// Service returns one service with its instances, primary first.
func (c *Catalog) Service(name string) (Service, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if _, ok := c.instances[name]; !ok {
		return Service{}, false
	}
	return c.serviceLocked(name), true
}

func (c *Catalog) serviceLocked(name string) Service {
	byHost := c.instances[name]
	s := Service{Name: name, Instances: make([]Instance, 0, len(byHost))}
	for _, inst := range byHost {
		i := *inst
		i.Tags = slices.Clone(inst.Tags)
		if h := c.hosts[i.Host]; h == nil || h.Status != HostAlive {
			i.Health = HealthCritical
		}
		s.Instances = append(s.Instances, i)
	}
	sortInstances(s.Instances)
	return s
}

// Endpoint is an instance together with the address it is reached on.
type Endpoint struct {
	Instance
	Address string
}

// Healthy returns the instances of a service that are not critical and whose
// host is alive, primary first. The second result reports whether the
// service exists at all.
func (c *Catalog) Healthy(service string) ([]Endpoint, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if _, ok := c.instances[service]; !ok {
		return nil, false
	}
	var out []Endpoint
	for _, inst := range c.serviceLocked(service).Instances {
		if inst.Health == HealthCritical {
			continue
		}
		out = append(out, Endpoint{Instance: inst, Address: c.hosts[inst.Host].Address})
	}
	return out, true
}

// snapshotVersion is the format version of [Snapshot] output.
const snapshotVersion = 1

type snapshotData struct {
	Version   int        `json:"version"`
	Index     uint64     `json:"index"`
	Hosts     []Host     `json:"hosts"`
	Instances []Instance `json:"instances"`
}

// Snapshot is a point-in-time copy of the catalogue that can be written out
// while Apply goes on.
type Snapshot struct{ data snapshotData }

// Snapshot copies the current state.
func (c *Catalog) Snapshot() io.WriterTo {
	c.mu.RLock()
	defer c.mu.RUnlock()
	d := snapshotData{Version: snapshotVersion, Index: c.index}
	for _, name := range slices.Sorted(maps.Keys(c.hosts)) {
		d.Hosts = append(d.Hosts, *c.hosts[name])
	}
	for _, svc := range slices.Sorted(maps.Keys(c.instances)) {
		byHost := c.instances[svc]
		for _, h := range slices.Sorted(maps.Keys(byHost)) {
			i := *byHost[h]
			i.Tags = slices.Clone(i.Tags)
			d.Instances = append(d.Instances, i)
		}
	}
	return &Snapshot{data: d}
}

// WriteTo writes the snapshot as JSON.
func (s *Snapshot) WriteTo(w io.Writer) (int64, error) {
	b, err := json.Marshal(s.data)
	if err != nil {
		return 0, fmt.Errorf("encode catalogue snapshot: %w", err)
	}
	n, err := w.Write(b)
	return int64(n), err
}

// Restore replaces the whole state with a snapshot written by
// [Snapshot.WriteTo]. On error the state is unchanged.
func (c *Catalog) Restore(r io.Reader) error {
	var d snapshotData
	dec := json.NewDecoder(r)
	if err := dec.Decode(&d); err != nil {
		return fmt.Errorf("decode catalogue snapshot: %w", err)
	}
	if d.Version != snapshotVersion {
		return fmt.Errorf("catalogue snapshot version %d not supported (want %d)", d.Version, snapshotVersion)
	}
	hosts := make(map[string]*Host, len(d.Hosts))
	for i := range d.Hosts {
		hosts[d.Hosts[i].Name] = &d.Hosts[i]
	}
	instances := map[string]map[string]*Instance{}
	for i := range d.Instances {
		inst := &d.Instances[i]
		if instances[inst.Service] == nil {
			instances[inst.Service] = map[string]*Instance{}
		}
		instances[inst.Service][inst.Host] = inst
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index, c.hosts, c.instances = d.Index, hosts, instances
	return nil
}
