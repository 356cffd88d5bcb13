package api

// Version is the API path prefix.
const Version = "/v1"

// TokenHeader carries the ACL token; "Authorization: Bearer TOKEN" works too.
const TokenHeader = "X-Understudy-Token"

// Error is the body of every non-2xx answer.
type Error struct {
	Error string `json:"error"`
}

// Leader names the current Raft leader.
type Leader struct {
	ID      string `json:"id"`
	Address string `json:"address"`
}

// Peer is a member of the coordinators' Raft configuration.
type Peer struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Voter   bool   `json:"voter"`
	Leader  bool   `json:"leader"`
}

// Member is a node of the gossip pool, coordinator or agent.
type Member struct {
	Name    string `json:"name"`
	Addr    string `json:"addr"`
	State   string `json:"state"` // alive, suspect, dead, left
	Kind    string `json:"kind"`  // coordinator or agent
	Region  string `json:"region,omitempty"`
	Role    string `json:"role,omitempty"`
	Version string `json:"version,omitempty"`
}

// Host is an agent's machine as the catalogue knows it.
type Host struct {
	Name        string `json:"name"`
	Region      string `json:"region"`
	Role        string `json:"role"`
	Address     string `json:"address"`
	Version     string `json:"version,omitempty"`
	Status      string `json:"status"` // alive, failed, left
	StatusSince int64  `json:"status_since"`
	Fenced      bool   `json:"fenced,omitempty"`
	ModifyIndex uint64 `json:"modify_index"`
}

// Instance is one host's copy of a service.
type Instance struct {
	Service     string   `json:"service"`
	Host        string   `json:"host"`
	Grid        string   `json:"grid,omitempty"`
	Port        int      `json:"port"`
	Tags        []string `json:"tags,omitempty"`
	Primary     bool     `json:"primary"`
	Health      string   `json:"health"` // passing, warning, critical
	HealthSince int64    `json:"health_since"`
	Running     bool     `json:"running"`
	Fenced      bool     `json:"fenced,omitempty"`
	// RestartRequested is when a restart was last asked for (ms).
	RestartRequested int64  `json:"restart_requested,omitempty"`
	ModifyIndex      uint64 `json:"modify_index"`
}

// Service is a service with its failover state and its instances, primary
// first.
type Service struct {
	Name         string     `json:"name"`
	Primary      string     `json:"primary"`
	Epoch        uint64     `json:"epoch"`
	LastFailover int64      `json:"last_failover,omitempty"`
	Instances    []Instance `json:"instances"`
}

// HostInstance is an instance as its own agent sees it: whether to serve,
// and at which epoch.
type HostInstance struct {
	Instance
	Epoch       uint64 `json:"epoch"`
	PrimaryHost string `json:"primary_host"`
	HostFenced  bool   `json:"host_fenced,omitempty"`
}

// HostInstances is the answer to a (blocking) read of a host's instances.
type HostInstances struct {
	Index     uint64         `json:"index"`
	Instances []HostInstance `json:"instances"`
}

// Promotion is one change of a service's primary.
type Promotion struct {
	Service string `json:"service"`
	From    string `json:"from,omitempty"`
	To      string `json:"to"`
	Epoch   uint64 `json:"epoch"`
	Reason  string `json:"reason"`
	Planned bool   `json:"planned"`
	At      int64  `json:"at"`
	Index   uint64 `json:"index"`
}

// LeaseRequest asks the leader for (or renews) a primary's lease.
type LeaseRequest struct {
	Host  string `json:"host"`
	Epoch uint64 `json:"epoch"`
}

// LeaseGrant is a granted lease. The holder must stop serving TTLMillis
// after it sent the request unless it renews.
type LeaseGrant struct {
	TTLMillis int64 `json:"ttl_ms"`
}

// Running reports whether an instance's process runs.
type Running struct {
	Running bool `json:"running"`
}

// FailoverRequest asks for a planned switchover, to a given host or to the
// best standby.
type FailoverRequest struct {
	To string `json:"to,omitempty"`
}

// ServiceDef is one service an agent runs or stands by for.
type ServiceDef struct {
	Name    string   `json:"name"`
	Grid    string   `json:"grid,omitempty"`
	Port    int      `json:"port"`
	Tags    []string `json:"tags,omitempty"`
	Primary bool     `json:"primary"`
	// HasCheck makes a new instance start critical until its check passes.
	HasCheck bool `json:"has_check,omitempty"`
}

// Registration is what an agent sends to PUT /v1/register: its host and the
// complete set of services it carries.
type Registration struct {
	Name     string       `json:"name"`
	Region   string       `json:"region"`
	Role     string       `json:"role"`
	Address  string       `json:"address"`
	Version  string       `json:"version,omitempty"`
	Services []ServiceDef `json:"services"`
}

// Route is where a grid's logins go now.
type Route struct {
	Grid    string `json:"grid"`
	Service string `json:"service"`
	Host    string `json:"host"`
	Address string `json:"address"`
	Primary bool   `json:"primary"`
	Epoch   uint64 `json:"epoch"`
	Healthy bool   `json:"healthy"`
}
