package catalog

import (
	"slices"
	"strings"
)

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
	// Fenced hosts may not be primary for anything.
	Fenced bool `json:"fenced,omitempty"`
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
	// Primary is true for the instance on the service's primary host.
	Primary bool   `json:"primary"`
	Health  Health `json:"health"`
	// HealthSince is when Health last changed (Unix milliseconds, from the
	// command).
	HealthSince int64 `json:"health_since"`
	// Running is what the host's agent last reported about the service's
	// process.
	Running bool `json:"running"`
	// Fenced marks a former primary that lost its role in a failover: it
	// must resynchronise before it can serve or be promoted again.
	Fenced bool `json:"fenced,omitempty"`
	// RestartRequested is when a restart of this instance was last asked
	// for (Unix milliseconds); the agent restarts the service once for each
	// new value.
	RestartRequested int64 `json:"restart_requested,omitempty"`
	// ModifyIndex is the Raft index of the last change to this instance.
	ModifyIndex uint64 `json:"modify_index"`
}

// ServiceDef is what an agent registers for one service it runs or stands by
// for.
type ServiceDef struct {
	Name string   `json:"name"`
	Grid string   `json:"grid,omitempty"`
	Port int      `json:"port"`
	Tags []string `json:"tags,omitempty"`
	// Primary claims the primary role; the claim is granted only when the
	// service has no primary yet. After that the coordinators decide.
	Primary bool `json:"primary"`
	// HasCheck says the agent runs a health check for the service: a new
	// instance then starts critical until the check passes.
	HasCheck bool `json:"has_check,omitempty"`
}

// Service is a service name with its failover state and its instances,
// primary first, then by host name.
type Service struct {
	Name string `json:"name"`
	// Primary is the host that serves; empty when none does.
	Primary string `json:"primary"`
	// Epoch is the fencing token: it rises with every change of primary,
	// and an agent only serves the service at the current epoch.
	Epoch uint64 `json:"epoch"`
	// LastFailover is when the primary last changed (Unix milliseconds).
	LastFailover int64 `json:"last_failover,omitempty"`
	// VacantSince is when the service last lost (or was created without)
	// a primary; it means nothing while Primary is set.
	VacantSince int64      `json:"vacant_since,omitempty"`
	Instances   []Instance `json:"instances"`
}

// Promotion records one change of a service's primary.
type Promotion struct {
	Service string `json:"service"`
	From    string `json:"from,omitempty"`
	To      string `json:"to"`
	Epoch   uint64 `json:"epoch"`
	Reason  string `json:"reason"`
	// Planned is true for an operator's switchover, false for an automatic
	// failover.
	Planned bool   `json:"planned"`
	At      int64  `json:"at"`
	Index   uint64 `json:"index"`
}

func sortInstances(in []Instance) {
	slices.SortFunc(in, func(a, b Instance) int {
		if a.Primary != b.Primary {
			if a.Primary {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Host, b.Host)
	})
}
