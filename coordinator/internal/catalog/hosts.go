package catalog

import (
	"fmt"
	"maps"
	"slices"
)

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
	for k, d := range c.datasets {
		if d.Host == cmd.Name {
			delete(c.datasets, k)
		}
	}
	for name, s := range c.services {
		c.dropInstanceLocked(name, s, cmd.Name, 0)
	}
	return nil
}

func (c *Catalog) fenceHost(index uint64, cmd *FenceHost) error {
	h, ok := c.hosts[cmd.Name]
	if !ok {
		return fmt.Errorf("host %s: %w", cmd.Name, ErrNotFound)
	}
	if h.Fenced != cmd.Fenced {
		h.Fenced = cmd.Fenced
		h.ModifyIndex = index
	}
	return nil
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

// HostInstances returns the instances a host carries, sorted by service,
// with each service's epoch.
func (c *Catalog) HostInstances(host string) []HostInstance {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []HostInstance
	for _, name := range slices.Sorted(maps.Keys(c.services)) {
		s := c.services[name]
		if inst, ok := s.instances[host]; ok {
			out = append(out, HostInstance{Instance: c.instanceLocked(s, inst), Epoch: s.Epoch, PrimaryHost: s.Primary,
				HostFenced: c.hosts[host] != nil && c.hosts[host].Fenced})
		}
	}
	return out
}

// HostInstance is an instance seen from its host: what the agent needs to
// know to run or stop it.
type HostInstance struct {
	Instance
	// Epoch is the service's current fencing token.
	Epoch uint64 `json:"epoch"`
	// PrimaryHost is the service's primary, possibly another host.
	PrimaryHost string `json:"primary_host"`
	// HostFenced is true when the whole host is fenced: it serves nothing.
	HostFenced bool `json:"host_fenced,omitempty"`
}
