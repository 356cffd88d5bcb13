package catalog

import "slices"

// HostStatus is what the leader last concluded about a host from gossip.
type HostStatus string

// Host states.
const (
	HostAlive  HostStatus = "alive"
	HostFailed HostStatus = "failed"
	HostLeft   HostStatus = "left"
)

// Valid reports whether s is a known host state.
func (s HostStatus) Valid() bool {
	return s == HostAlive || s == HostFailed || s == HostLeft
}

// Role is a host's part in its region.
type Role string

// Host roles.
const (
	RoleActive  Role = "active"
	RoleStandby Role = "standby"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleActive || r == RoleStandby }

// Health is the state of an instance's check.
type Health string

// Check states, from best to worst.
const (
	HealthPassing  Health = "passing"
	HealthWarning  Health = "warning"
	HealthCritical Health = "critical"
)

// Valid reports whether h is a known check state.
func (h Health) Valid() bool {
	return h == HealthPassing || h == HealthWarning || h == HealthCritical
}

// Host is a machine running an understudy-agent.
type Host struct {
	Name    string     `json:"name"`
	Region  string     `json:"region"`
	Role    Role       `json:"role"`
	Address string     `json:"address"` // IP address that instances are reached on
	Version string     `json:"version,omitempty"`
	Status  HostStatus `json:"status"`
	// StatusSince is the command timestamp (Unix milliseconds) of the last
	// status change.
	StatusSince int64 `json:"status_since"`
	// ModifyIndex is the Raft index of the last change to this host.
	ModifyIndex uint64 `json:"modify_index"`
}

// Instance is one host's copy of a service.
type Instance struct {
	Service string   `json:"service"`
	Host    string   `json:"host"`
	Grid    string   `json:"grid,omitempty"`
	Port    int      `json:"port"`
	Tags    []string `json:"tags,omitempty"`
	Primary bool     `json:"primary"`
	Health  Health   `json:"health"`
	// ModifyIndex is the Raft index of the last change to this instance.
	ModifyIndex uint64 `json:"modify_index"`
}

// ServiceDef is what an agent registers for one service it runs or stands by
// for.
type ServiceDef struct {
	Name    string   `json:"name"`
	Grid    string   `json:"grid,omitempty"`
	Port    int      `json:"port"`
	Tags    []string `json:"tags,omitempty"`
	Primary bool     `json:"primary"`
}

// Service groups the instances of one service name, primary first, then by
// host name.
type Service struct {
	Name      string     `json:"name"`
	Instances []Instance `json:"instances"`
}

func sortInstances(in []Instance) {
	slices.SortFunc(in, func(a, b Instance) int {
		if a.Primary != b.Primary {
			if a.Primary {
				return -1
			}
			return 1
		}
		switch {
		case a.Host < b.Host:
			return -1
		case a.Host > b.Host:
			return 1
		}
		return 0
	})
}
