package login

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// Defaults used by [DefaultConfig] and for zero fields.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultTotalTimeout = 30 * time.Second
	DefaultDialTimeout  = 2 * time.Second
	DefaultMaxBody      = 1 << 20
)

// maxMaxBody caps [Config.MaxBody]: bodies are held in memory so that they
// can be sent again to another instance.
const maxMaxBody = 64 << 20

// Config configures a [Handler] and a [Front].
type Config struct {
	// Addr is the listen address of a [Front], e.g. ":8080"; port 0 picks a
	// free port.
	Addr string
	// Hosts maps a Host header (lower case, with or without port) to a grid
	// name, for grids whose login URI has a name of its own, such as
	// "login.osgrid.example" → "osgrid". A request whose path starts with
	// /grid/NAME/ is routed by path whatever its Host. Optional.
	Hosts map[string]string
	// Timeout bounds one attempt on one instance, from dialling to the last
	// byte of the answer. Zero means [DefaultTimeout].
	Timeout time.Duration
	// TotalTimeout bounds all attempts of one request together. Zero means
	// [DefaultTotalTimeout].
	TotalTimeout time.Duration
	// DialTimeout bounds connecting to one instance, so that an instance
	// whose host has vanished is given up quickly. Zero means
	// [DefaultDialTimeout]; it is never more than Timeout.
	DialTimeout time.Duration
	// MaxBody is the largest request body accepted, in bytes; larger ones
	// get 413. Zero means [DefaultMaxBody].
	MaxBody int64
	// OnUpstreamFailure, when set, is called after an attempt on a grid's
	// primary login instance failed (refused, timed out or answered 5xx),
	// so that the wiring can ask the host's agent to restart the service or
	// the provisioner to restart the host. It runs in its own goroutine,
	// never on the request path; while a call for the same grid, host and
	// service is still running, further failures there are not reported
	// again. It must be safe for concurrent use and bound its own work:
	// [Front.Run] and [Handler.Close] wait for running calls.
	OnUpstreamFailure func(grid, host, service string, err error)
	// Logger receives reroutes, upstream failures and lifecycle messages.
	// Nil discards them.
	Logger *slog.Logger
}

// DefaultConfig returns a configuration listening on :8080 (the login port
// of DESIGN.md) with the default timeouts and body limit.
func DefaultConfig() Config {
	return Config{
		Addr:         ":8080",
		Timeout:      DefaultTimeout,
		TotalTimeout: DefaultTotalTimeout,
		DialTimeout:  DefaultDialTimeout,
		MaxBody:      DefaultMaxBody,
	}
}

// Validate reports every problem in c, joined. It does not check Addr,
// which only a [Front] needs.
func (c Config) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"timeout", c.Timeout}, {"total_timeout", c.TotalTimeout}, {"dial_timeout", c.DialTimeout}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("login %s %s is negative", d.name, d.v))
		}
	}
	if c.Timeout > 0 && c.TotalTimeout > 0 && c.TotalTimeout < c.Timeout {
		errs = append(errs, fmt.Errorf("login total_timeout %s is shorter than timeout %s", c.TotalTimeout, c.Timeout))
	}
	if c.MaxBody < 0 || c.MaxBody > maxMaxBody {
		errs = append(errs, fmt.Errorf("login max_body %d is out of range (0 to %d bytes)", c.MaxBody, maxMaxBody))
	}
	for host, grid := range c.Hosts {
		switch {
		case host == "" || strings.ContainsAny(host, "/ \t@"):
			errs = append(errs, fmt.Errorf("login hosts: %q is not a host name", host))
		case host != strings.ToLower(host):
			errs = append(errs, fmt.Errorf("login hosts: %q must be lower case", host))
		case !validGridName(grid):
			errs = append(errs, fmt.Errorf("login hosts: %q maps to %q, which is not a grid name", host, grid))
		}
	}
	return errors.Join(errs...)
}

// validateListen checks the part of the configuration only a [Front]
// needs.
func (c Config) validateListen() error {
	_, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("login listen address %q: want HOST:PORT: %w", c.Addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("login listen address %q: bad port %q", c.Addr, port)
	}
	return nil
}

// withDefaults fills zero fields from [DefaultConfig].
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	if c.TotalTimeout == 0 {
		c.TotalTimeout = max(d.TotalTimeout, c.Timeout)
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = d.DialTimeout
	}
	c.DialTimeout = min(c.DialTimeout, c.Timeout)
	if c.MaxBody == 0 {
		c.MaxBody = d.MaxBody
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validGridName reports whether s can be a grid name in a /grid/NAME/
// path: non-empty, at most 128 bytes, no slash, no control characters.
func validGridName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b == '/' || b < 0x20 || b == 0x7f {
			return false
		}
	}
	return true
}
