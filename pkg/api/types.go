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
	ModifyIndex uint64   `json:"modify_index"`
}

// Service is a service name with its instances, primary first.
type Service struct {
	Name      string     `json:"name"`
	Instances []Instance `json:"instances"`
}

// ServiceDef is one service an agent runs or stands by for.
type ServiceDef struct {
	Name    string   `json:"name"`
	Grid    string   `json:"grid,omitempty"`
	Port    int      `json:"port"`
	Tags    []string `json:"tags,omitempty"`
	Primary bool     `json:"primary"`
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
