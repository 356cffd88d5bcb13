package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// PoolPolicy is a region's standby pool policy, with the field names of the
// policy file (docs/standby.md).
type PoolPolicy struct {
	StandbyFloor int `json:"standby_floor"`
	MaxServers   int `json:"max_servers"`
	// RampDown is a duration string such as "30m0s".
	RampDown       string             `json:"ramp_down"`
	DynamicStandby PoolDynamicStandby `json:"dynamic_standby"`
}

// PoolDynamicStandby is the threshold table of a [PoolPolicy].
type PoolDynamicStandby struct {
	Enabled    bool            `json:"enabled"`
	Thresholds []PoolThreshold `json:"thresholds"`
}

// PoolThreshold raises the target to Multiplier × the floor when the ready
// standby count falls below Percent percent of the floor.
type PoolThreshold struct {
	Percent    float64 `json:"percent"`
	Multiplier float64 `json:"multiplier"`
}

// PoolState is the standby controller's state as the leader committed it.
type PoolState struct {
	Raised      bool      `json:"raised"`
	Multiplier  float64   `json:"multiplier,omitempty"`
	LastTrigger time.Time `json:"last_trigger,omitzero"`
}

// PoolRequest is an open provisioner request.
type PoolRequest struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"` // provision or release
	Count    int      `json:"count,omitempty"`
	Hosts    []string `json:"hosts,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	At       int64    `json:"at"`
	Answered bool     `json:"answered,omitempty"`
	// Booting is how many servers of a provision request have not joined.
	Booting int `json:"booting"`
}

// Pool is a region's standby pool with what the controller observes in it.
type Pool struct {
	Region string     `json:"region"`
	Policy PoolPolicy `json:"policy"`
	State  PoolState  `json:"state"`
	// Target is the standby target last committed by the leader.
	Target int `json:"target"`
	// Active counts alive hosts with role active and alive allocated hosts.
	Active int `json:"active"`
	// Ready counts alive, unfenced standby hosts that may be allocated.
	Ready int `json:"ready"`
	// Booting counts servers requested from the provisioner that have not
	// joined yet.
	Booting     int           `json:"booting"`
	ReadyHosts  []string      `json:"ready_hosts"`
	Requests    []PoolRequest `json:"requests"`
	Allocations []Allocation  `json:"allocations"`
	ModifyIndex uint64        `json:"modify_index"`
}

// AllocateRequest is the optional body of an allocation.
type AllocateRequest struct {
	// Service, if set, asks for a host carrying an instance of it, the one
	// with the freshest mirrors first.
	Service string `json:"service,omitempty"`
	// ID makes the allocation idempotent: repeating it returns the same
	// host. The coordinator picks one when it is empty.
	ID string `json:"id,omitempty"`
}

// Port is a service port on an allocated host.
type Port struct {
	Service string `json:"service"`
	Port    int    `json:"port"`
}

// Allocation is a host handed out from a pool.
type Allocation struct {
	ID      string `json:"id"`
	Region  string `json:"region"`
	Host    string `json:"host"`
	Address string `json:"address"`
	Service string `json:"service,omitempty"`
	Ports   []Port `json:"ports"`
	At      int64  `json:"at"`
	Index   uint64 `json:"index"`
}

// DeallocateRequest names the host to return to the pool.
type DeallocateRequest struct {
	Host string `json:"host"`
}

// Pools returns every region's standby pool.
func (c *Client) Pools(ctx context.Context, opts ...ReadOption) ([]Pool, error) {
	var p []Pool
	return p, c.get(ctx, "/pools", &p, opts)
}

// Pool returns one region's standby pool.
func (c *Client) Pool(ctx context.Context, region string, opts ...ReadOption) (Pool, error) {
	var p Pool
	return p, c.get(ctx, "/pools/"+url.PathEscape(region), &p, opts)
}

// SetPoolPolicy creates region's pool or replaces its policy. policy is
// the policy document as JSON; the API also takes YAML from other clients.
// A 400 StatusError names the offending field.
func (c *Client) SetPoolPolicy(ctx context.Context, region string, policy json.RawMessage) (Pool, error) {
	var p Pool
	return p, c.do(ctx, http.MethodPut, "/pools/"+url.PathEscape(region), nil, policy, &p)
}

// Allocate turns one ready standby host of region into an allocated one
// and returns it. A 503 StatusError means no standby host is ready.
func (c *Client) Allocate(ctx context.Context, region string, req AllocateRequest) (Allocation, error) {
	var a Allocation
	return a, c.do(ctx, http.MethodPost, "/pools/"+url.PathEscape(region)+"/allocate", nil, req, &a)
}

// Deallocate returns an allocated host of region to its standby pool.
func (c *Client) Deallocate(ctx context.Context, region, host string) error {
	return c.do(ctx, http.MethodPost, "/pools/"+url.PathEscape(region)+"/deallocate", nil, DeallocateRequest{Host: host}, nil)
}
