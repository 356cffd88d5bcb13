package health

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The defaults [CheckConfig.WithDefaults] fills in for fields left zero.
const (
	DefaultInterval               = 10 * time.Second
	DefaultTimeout                = 2 * time.Second
	DefaultFailuresBeforeCritical = 1
	DefaultSuccessesBeforePassing = 1
)

// MinInterval is the shortest interval a check may have. It keeps a typo
// ("1ms" for "1s") from turning a check into a busy loop.
const MinInterval = 10 * time.Millisecond

// CheckConfig is one check, as written in a service's check entry of the
// agent's YAML file:
//
//	check: {http: "http://127.0.0.1:8002/get_grid_info", interval: 1s, timeout: 500ms,
//	        failures_before_critical: 2, successes_before_passing: 2}
//
// Exactly one of HTTP, TCP and Command is set. Durations are strings such
// as "1s" or "500ms". A zero field means its default; see
// [CheckConfig.WithDefaults].
type CheckConfig struct {
	// HTTP is a URL to GET: a 2xx answer is passing, 429 is warning,
	// anything else is critical. At most a few redirects are followed.
	HTTP string `yaml:"http,omitempty"`
	// TCP is a host:port to connect to: a connection is passing.
	TCP string `yaml:"tcp,omitempty"`
	// Command is a program and its arguments, run without a shell: exit
	// status 0 is passing, 1 is warning, anything else is critical.
	Command []string `yaml:"command,omitempty"`
	// Interval is the time between the starts of two probes.
	Interval time.Duration `yaml:"interval,omitempty"`
	// Timeout bounds one probe; a probe that takes longer is critical. It
	// may not exceed Interval.
	Timeout time.Duration `yaml:"timeout,omitempty"`
	// FailuresBeforeCritical and SuccessesBeforePassing are the anti-flap
	// [Thresholds].
	FailuresBeforeCritical int `yaml:"failures_before_critical,omitempty"`
	SuccessesBeforePassing int `yaml:"successes_before_passing,omitempty"`
}

// WithDefaults returns c with its zero fields set: Interval to
// [DefaultInterval]; Timeout to [DefaultTimeout], or to half the interval
// when the interval is shorter than twice that, so that a probe always ends
// well before the next one is due (interval 1s gives timeout 500ms); and
// both thresholds to 1, which reports every result as it comes.
func (c CheckConfig) WithDefaults() CheckConfig {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
		if c.Interval > 0 && c.Interval < 2*DefaultTimeout {
			c.Timeout = c.Interval / 2
		}
	}
	if c.FailuresBeforeCritical == 0 {
		c.FailuresBeforeCritical = DefaultFailuresBeforeCritical
	}
	if c.SuccessesBeforePassing == 0 {
		c.SuccessesBeforePassing = DefaultSuccessesBeforePassing
	}
	return c
}

// Thresholds returns the check's anti-flap thresholds, defaults applied.
func (c CheckConfig) Thresholds() Thresholds {
	d := c.WithDefaults()
	return Thresholds{
		FailuresBeforeCritical: d.FailuresBeforeCritical,
		SuccessesBeforePassing: d.SuccessesBeforePassing,
	}
}

// Validate reports every problem in c, defaults applied, each naming its
// field as the YAML file spells it.
func (c CheckConfig) Validate() error {
	c = c.WithDefaults()
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	var kinds []string
	if c.HTTP != "" {
		kinds = append(kinds, "http")
		if err := validateHTTP(c.HTTP); err != nil {
			add("http: %v", err)
		}
	}
	if c.TCP != "" {
		kinds = append(kinds, "tcp")
		if err := validateTCP(c.TCP); err != nil {
			add("tcp: %v", err)
		}
	}
	if len(c.Command) > 0 {
		kinds = append(kinds, "command")
		if c.Command[0] == "" {
			add("command: the program (first element) is empty")
		}
	}
	switch len(kinds) {
	case 0:
		add("check: set one of http, tcp or command")
	case 1:
	default:
		add("check: set only one of http, tcp or command, not %s", strings.Join(kinds, " and "))
	}

	switch {
	case c.Interval < 0:
		add("interval: %s is negative", c.Interval)
	case c.Interval < MinInterval:
		add("interval: %s is shorter than the minimum %s", c.Interval, MinInterval)
	}
	switch {
	case c.Timeout < 0:
		add("timeout: %s is negative", c.Timeout)
	case c.Interval > 0 && c.Timeout > c.Interval:
		add("timeout: %s is longer than the interval %s", c.Timeout, c.Interval)
	}
	if c.FailuresBeforeCritical < 0 {
		add("failures_before_critical: %d is negative (0 or 1 report every failure)", c.FailuresBeforeCritical)
	}
	if c.SuccessesBeforePassing < 0 {
		add("successes_before_passing: %d is negative (0 or 1 report every success)", c.SuccessesBeforePassing)
	}
	return errors.Join(errs...)
}

func validateHTTP(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q is not an http:// or https:// URL", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", raw)
	}
	return nil
}

func validateTCP(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("%q: port %q is not a number from 1 to 65535", addr, port)
	}
	return nil
}
