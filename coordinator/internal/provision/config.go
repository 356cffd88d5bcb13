package provision

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Config says how to reach the provisioner hook: a command or a webhook,
// never both.
type Config struct {
	// Command is the hook's argv. It gets the [Request] as JSON on stdin
	// and answers with a [Response] as JSON on stdout.
	Command []string `yaml:"command" json:"command,omitempty"`
	// Webhook is an http or https URL; the [Request] is POSTed as JSON and
	// the [Response] is the response body.
	Webhook string `yaml:"webhook" json:"webhook,omitempty"`
	// Token, if set, is sent to the webhook as "Authorization: Bearer".
	Token string `yaml:"token" json:"-"`
	// Timeout bounds one attempt.
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
	// MaxInFlight bounds the hook invocations running at once.
	MaxInFlight int `yaml:"max_in_flight" json:"max_in_flight"`
	// BackoffInitial is the pause after the first failed attempt; each
	// further failure doubles it up to BackoffMax. Each pause is drawn
	// between half and all of that value so that pools retry apart.
	BackoffInitial time.Duration `yaml:"backoff_initial" json:"backoff_initial"`
	BackoffMax     time.Duration `yaml:"backoff_max" json:"backoff_max"`
	// MaxAttempts stops retrying after this many attempts; 0 retries until
	// the caller's context ends.
	MaxAttempts int `yaml:"max_attempts" json:"max_attempts"`
	// RememberIDs is how many completed request ids the client keeps to
	// answer repeats without calling the hook again.
	RememberIDs int `yaml:"remember_ids" json:"remember_ids"`
}

// DefaultConfig returns the defaults for everything but the hook itself.
func DefaultConfig() Config {
	return Config{
		Timeout:        2 * time.Minute,
		MaxInFlight:    4,
		BackoffInitial: time.Second,
		BackoffMax:     time.Minute,
		RememberIDs:    4096,
	}
}

// Validate reports every problem of c, each naming its field.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch {
	case len(c.Command) == 0 && c.Webhook == "":
		add("provisioner: set either command or webhook")
	case len(c.Command) > 0 && c.Webhook != "":
		add("provisioner: command and webhook exclude each other")
	}
	if len(c.Command) > 0 && c.Command[0] == "" {
		add("provisioner.command[0] must name a program")
	}
	if c.Webhook != "" {
		u, err := url.Parse(c.Webhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("provisioner.webhook %q must be an http or https URL", c.Webhook)
		}
	}
	if c.Token != "" && c.Webhook == "" {
		add("provisioner.token is only sent to a webhook")
	}
	if c.Timeout <= 0 {
		add("provisioner.timeout %s must be positive", c.Timeout)
	}
	if c.MaxInFlight < 1 {
		add("provisioner.max_in_flight %d must be at least 1", c.MaxInFlight)
	}
	if c.BackoffInitial <= 0 {
		add("provisioner.backoff_initial %s must be positive", c.BackoffInitial)
	}
	if c.BackoffMax < c.BackoffInitial {
		add("provisioner.backoff_max %s must be at least backoff_initial %s", c.BackoffMax, c.BackoffInitial)
	}
	if c.MaxAttempts < 0 {
		add("provisioner.max_attempts %d must not be negative", c.MaxAttempts)
	}
	if c.RememberIDs < 1 {
		add("provisioner.remember_ids %d must be at least 1", c.RememberIDs)
	}
	return errors.Join(errs...)
}
