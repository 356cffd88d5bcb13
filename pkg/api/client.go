package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// StatusError is a non-2xx answer from a coordinator.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Code)
}

// IsStatus reports whether err is a StatusError with the given code.
func IsStatus(err error, code int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == code
}

// Client talks to one coordinator.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient returns a client for the coordinator at addr ("host:port" or a
// URL) using token for requests that need one.
func NewClient(addr, token string) *Client {
	base := addr
	if u, err := url.Parse(addr); err != nil || u.Scheme == "" || u.Host == "" {
		base = "http://" + addr
	}
	return &Client{base: base, token: token, http: &http.Client{Timeout: 30 * time.Second}}
}

// ReadOption modifies a read.
type ReadOption func(url.Values)

// Consistent makes the answering coordinator confirm with the leader before
// reading, so the read reflects every acknowledged write.
func Consistent() ReadOption { return func(v url.Values) { v.Set("consistent", "") } }

func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	u := c.base + Version + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set(TokenHeader, c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e Error
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		return &StatusError{Code: resp.StatusCode, Message: e.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode response from %s: %w", path, err)
	}
	return nil
}

func (c *Client) get(ctx context.Context, path string, out any, opts []ReadOption) error {
	q := url.Values{}
	for _, o := range opts {
		o(q)
	}
	return c.do(ctx, http.MethodGet, path, q, nil, out)
}

// Leader returns the current Raft leader.
func (c *Client) Leader(ctx context.Context) (Leader, error) {
	var l Leader
	return l, c.get(ctx, "/status/leader", &l, nil)
}

// Peers returns the Raft configuration.
func (c *Client) Peers(ctx context.Context, opts ...ReadOption) ([]Peer, error) {
	var p []Peer
	return p, c.get(ctx, "/peers", &p, opts)
}

// RemovePeer drops a coordinator from the Raft configuration.
func (c *Client) RemovePeer(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/peers/"+url.PathEscape(id), nil, nil, nil)
}

// Members returns the gossip pool as this coordinator sees it.
func (c *Client) Members(ctx context.Context) ([]Member, error) {
	var m []Member
	return m, c.get(ctx, "/members", &m, nil)
}

// Hosts returns every host in the catalogue.
func (c *Client) Hosts(ctx context.Context, opts ...ReadOption) ([]Host, error) {
	var h []Host
	return h, c.get(ctx, "/hosts", &h, opts)
}

// Host returns one host.
func (c *Client) Host(ctx context.Context, name string, opts ...ReadOption) (Host, error) {
	var h Host
	return h, c.get(ctx, "/hosts/"+url.PathEscape(name), &h, opts)
}

// DeleteHost removes a host and its instances from the catalogue.
func (c *Client) DeleteHost(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/hosts/"+url.PathEscape(name), nil, nil, nil)
}

// Services returns every service with its instances.
func (c *Client) Services(ctx context.Context, opts ...ReadOption) ([]Service, error) {
	var s []Service
	return s, c.get(ctx, "/services", &s, opts)
}

// Service returns one service.
func (c *Client) Service(ctx context.Context, name string, opts ...ReadOption) (Service, error) {
	var s Service
	return s, c.get(ctx, "/services/"+url.PathEscape(name), &s, opts)
}

// Register records an agent's host and its services.
func (c *Client) Register(ctx context.Context, r Registration) error {
	return c.do(ctx, http.MethodPut, "/register", nil, r, nil)
}

// HostInstances returns a host's instances. With index > 0 it is a blocking
// query: the answer comes when the catalogue moves past index, or after
// wait.
func (c *Client) HostInstances(ctx context.Context, host string, index uint64, wait time.Duration) (HostInstances, error) {
	q := url.Values{}
	if index > 0 {
		q.Set("index", strconv.FormatUint(index, 10))
		q.Set("wait", wait.String())
	}
	var out HostInstances
	return out, c.do(ctx, http.MethodGet, "/hosts/"+url.PathEscape(host)+"/instances", q, nil, &out)
}

// SetRunning reports whether host's instance of service runs.
func (c *Client) SetRunning(ctx context.Context, host, service string, running bool) error {
	return c.do(ctx, http.MethodPut, "/hosts/"+url.PathEscape(host)+"/instances/"+url.PathEscape(service)+"/running",
		nil, Running{Running: running}, nil)
}

// Resynced tells the coordinators that host's fenced instance of service
// has caught up with the primary and may stand by again.
func (c *Client) Resynced(ctx context.Context, host, service string) error {
	return c.do(ctx, http.MethodPost, "/hosts/"+url.PathEscape(host)+"/instances/"+url.PathEscape(service)+"/resynced",
		nil, nil, nil)
}

// RenewLease acquires or renews host's lease as primary of service at
// epoch. A 409 StatusError means the host must not serve.
func (c *Client) RenewLease(ctx context.Context, service, host string, epoch uint64) (time.Duration, error) {
	var g LeaseGrant
	err := c.do(ctx, http.MethodPut, "/leases/"+url.PathEscape(service), nil, LeaseRequest{Host: host, Epoch: epoch}, &g)
	return time.Duration(g.TTLMillis) * time.Millisecond, err
}

// ReleaseLease gives up host's lease of service after it stopped serving.
func (c *Client) ReleaseLease(ctx context.Context, service, host string) error {
	q := url.Values{"host": {host}}
	return c.do(ctx, http.MethodDelete, "/leases/"+url.PathEscape(service), q, nil, nil)
}

// Failover makes a planned switchover of service, to host to or (empty) to
// the best standby, and returns the promotion.
func (c *Client) Failover(ctx context.Context, service, to string) (Promotion, error) {
	var p Promotion
	return p, c.do(ctx, http.MethodPost, "/services/"+url.PathEscape(service)+"/failover", nil, FailoverRequest{To: to}, &p)
}

// Drain moves every service whose primary is host to a standby.
func (c *Client) Drain(ctx context.Context, host string) ([]Promotion, error) {
	var ps []Promotion
	return ps, c.do(ctx, http.MethodPost, "/hosts/"+url.PathEscape(host)+"/drain", nil, nil, &ps)
}

// Fence fences (or with fenced false, readmits) a host.
func (c *Client) Fence(ctx context.Context, host string, fenced bool) error {
	method := http.MethodPost
	if !fenced {
		method = http.MethodDelete
	}
	return c.do(ctx, method, "/hosts/"+url.PathEscape(host)+"/fence", nil, nil, nil)
}

// Promotions returns the promotion history, oldest first.
func (c *Client) Promotions(ctx context.Context) ([]Promotion, error) {
	var ps []Promotion
	return ps, c.get(ctx, "/promotions", &ps, nil)
}

// RequestRestart asks host's agent to restart its instance of service.
func (c *Client) RequestRestart(ctx context.Context, host, service string) error {
	return c.do(ctx, http.MethodPost, "/hosts/"+url.PathEscape(host)+"/instances/"+url.PathEscape(service)+"/restart",
		nil, nil, nil)
}

// Route returns where a grid's logins go now.
func (c *Client) Route(ctx context.Context, grid string) (Route, error) {
	var r Route
	return r, c.get(ctx, "/route/"+url.PathEscape(grid), &r, nil)
}

// SaveState writes the whole catalogue, as confirmed by the leader, to w.
func (c *Client) SaveState(ctx context.Context, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+Version+"/state?consistent", nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var e Error
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		return &StatusError{Code: resp.StatusCode, Message: e.Error}
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// RestoreState replaces the whole catalogue with one saved by SaveState.
func (c *Client) RestoreState(ctx context.Context, state json.RawMessage) error {
	return c.do(ctx, http.MethodPut, "/state", nil, state, nil)
}
