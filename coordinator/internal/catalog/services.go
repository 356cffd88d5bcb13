package catalog

import (
	"fmt"
	"maps"
	"slices"
)

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
	var at int64
	if cmd.Upsert != nil {
		at = cmd.Upsert.At
	}
	for name, s := range c.services {
		if !seen[name] {
			c.dropInstanceLocked(name, s, cmd.Host, at)
		}
	}
	for _, def := range cmd.Services {
		s := c.services[def.Name]
		if s == nil {
			s = &serviceState{Name: def.Name, VacantSince: at, instances: map[string]*Instance{}}
			c.services[def.Name] = s
		}
		inst, ok := s.instances[cmd.Host]
		if !ok {
			inst = &Instance{Service: def.Name, Host: cmd.Host, Health: HealthPassing, HealthSince: at}
			if def.HasCheck {
				inst.Health = HealthCritical
			}
			s.instances[cmd.Host] = inst
		}
		inst.Grid, inst.Port = def.Grid, def.Port
		inst.Tags = slices.Clone(def.Tags)
		inst.ModifyIndex = index
		if def.Primary && s.Primary == "" && !c.hosts[cmd.Host].Fenced && !inst.Fenced {
			s.Primary = cmd.Host
			s.Epoch++
		}
	}
	return nil
}

// dropInstanceLocked removes host's instance of a service; a service left
// without instances disappears, and one that loses its primary has none
// until the leader promotes another.
func (c *Catalog) dropInstanceLocked(name string, s *serviceState, host string, at int64) {
	if _, ok := s.instances[host]; !ok {
		return
	}
	delete(s.instances, host)
	if s.Primary == host {
		s.Primary, s.VacantSince = "", at
	}
	if len(s.instances) == 0 {
		delete(c.services, name)
	}
}

func (c *Catalog) instance(service, host string) (*serviceState, *Instance, error) {
	s := c.services[service]
	if s == nil {
		return nil, nil, fmt.Errorf("service %s: %w", service, ErrNotFound)
	}
	inst := s.instances[host]
	if inst == nil {
		return nil, nil, fmt.Errorf("instance %s on %s: %w", service, host, ErrNotFound)
	}
	return s, inst, nil
}

func (c *Catalog) setHealth(index uint64, cmd *SetHealth) error {
	if !cmd.Health.Valid() {
		return fmt.Errorf("%w: unknown health %q", ErrInvalid, cmd.Health)
	}
	_, inst, err := c.instance(cmd.Service, cmd.Host)
	if err != nil {
		return err
	}
	if inst.Health != cmd.Health {
		inst.Health, inst.HealthSince = cmd.Health, cmd.At
		inst.ModifyIndex = index
	}
	return nil
}

func (c *Catalog) setRunning(index uint64, cmd *SetRunning) error {
	_, inst, err := c.instance(cmd.Service, cmd.Host)
	if err != nil {
		return err
	}
	if inst.Running != cmd.Running {
		inst.Running = cmd.Running
		inst.ModifyIndex = index
	}
	return nil
}

func (c *Catalog) promote(index uint64, cmd *Promote) error {
	s, inst, err := c.instance(cmd.Service, cmd.To)
	if err != nil {
		return err
	}
	switch {
	case s.Epoch != cmd.Epoch:
		return fmt.Errorf("%w: service %s is at epoch %d, not %d", ErrConflict, cmd.Service, s.Epoch, cmd.Epoch)
	case s.Primary == cmd.To:
		return fmt.Errorf("%w: %s is already the primary of %s", ErrInvalid, cmd.To, cmd.Service)
	case c.hosts[cmd.To] == nil || c.hosts[cmd.To].Fenced:
		return fmt.Errorf("%w: host %s is fenced or unknown", ErrInvalid, cmd.To)
	case inst.Fenced:
		return fmt.Errorf("%w: %s's instance of %s is fenced until it resynchronises", ErrInvalid, cmd.To, cmd.Service)
	}
	from := s.Primary
	if old := s.instances[from]; old != nil && !cmd.Planned {
		old.Fenced = true
		old.ModifyIndex = index
	}
	s.Primary = cmd.To
	s.Epoch++
	s.LastFailover = cmd.At
	inst.ModifyIndex = index
	c.promotions = append(c.promotions, Promotion{
		Service: cmd.Service, From: from, To: cmd.To, Epoch: s.Epoch,
		Reason: cmd.Reason, Planned: cmd.Planned, At: cmd.At, Index: index,
	})
	if over := len(c.promotions) - maxPromotions; over > 0 {
		c.promotions = slices.Delete(c.promotions, 0, over)
	}
	return nil
}

func (c *Catalog) clearFence(index uint64, cmd *ClearFence) error {
	s, inst, err := c.instance(cmd.Service, cmd.Host)
	if err != nil {
		return err
	}
	if s.Primary == cmd.Host {
		return fmt.Errorf("%w: %s is the primary of %s", ErrInvalid, cmd.Host, cmd.Service)
	}
	if inst.Fenced {
		inst.Fenced = false
		inst.ModifyIndex = index
	}
	return nil
}

// instanceLocked copies an instance with its derived fields: Primary, and
// Health forced to critical when the host is not alive.
func (c *Catalog) instanceLocked(s *serviceState, inst *Instance) Instance {
	i := *inst
	i.Tags = slices.Clone(inst.Tags)
	i.Primary = s.Primary == i.Host
	if h := c.hosts[i.Host]; h == nil || h.Status != HostAlive {
		i.Health = HealthCritical
	}
	return i
}

func (c *Catalog) serviceLocked(s *serviceState) Service {
	out := Service{Name: s.Name, Primary: s.Primary, Epoch: s.Epoch, LastFailover: s.LastFailover,
		VacantSince: s.VacantSince, Instances: make([]Instance, 0, len(s.instances))}
	for _, inst := range s.instances {
		out.Instances = append(out.Instances, c.instanceLocked(s, inst))
	}
	sortInstances(out.Instances)
	return out
}

// Services returns every service with its instances, sorted by name.
func (c *Catalog) Services() []Service {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Service, 0, len(c.services))
	for _, name := range slices.Sorted(maps.Keys(c.services)) {
		out = append(out, c.serviceLocked(c.services[name]))
	}
	return out
}

// Service returns one service with its instances, primary first.
func (c *Catalog) Service(name string) (Service, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s, ok := c.services[name]
	if !ok {
		return Service{}, false
	}
	return c.serviceLocked(s), true
}

// Endpoint is an instance together with the address it is reached on.
type Endpoint struct {
	Instance
	Address string
}

// Healthy returns the instances of a service that may receive traffic:
// passing, on an alive and unfenced host, and not a fenced former primary;
// primary first. The second result reports whether the service
// exists at all.
func (c *Catalog) Healthy(service string) ([]Endpoint, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s, ok := c.services[service]
	if !ok {
		return nil, false
	}
	var out []Endpoint
	for _, inst := range c.serviceLocked(s).Instances {
		h := c.hosts[inst.Host]
		if inst.Health != HealthPassing || inst.Fenced || h.Fenced {
			continue
		}
		out = append(out, Endpoint{Instance: inst, Address: h.Address})
	}
	return out, true
}

// Promotions returns the promotion history, oldest first.
func (c *Catalog) Promotions() []Promotion {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Clone(c.promotions)
}

// RequestRestart asks a host's agent to restart its instance of a service
// (for instance after the login front found it not answering).
type RequestRestart struct {
	Host    string `json:"host"`
	Service string `json:"service"`
	Reason  string `json:"reason"`
	At      int64  `json:"at"`
}

func (RequestRestart) commandType() CommandType { return CmdRequestRestart }

func (c *Catalog) requestRestart(index uint64, cmd *RequestRestart) error {
	_, inst, err := c.instance(cmd.Service, cmd.Host)
	if err != nil {
		return err
	}
	inst.RestartRequested = cmd.At
	inst.ModifyIndex = index
	return nil
}
