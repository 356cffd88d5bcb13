package server

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/understudy/understudy/coordinator/internal/provision"
)

// ProvisionerConfig is the coordinator's provisioner hook: the command or
// webhook the Raft leader asks for standby servers and through which it
// gives idle ones back. Without command and webhook the pools keep their
// controller state but ask for nothing.
type ProvisionerConfig struct {
	// Command is the hook's argv: a JSON request on stdin, a JSON answer
	// on stdout.
	Command []string `yaml:"command"`
	// Webhook is an http or https URL the request is POSTed to.
	Webhook string `yaml:"webhook"`
	// TokenFile holds the bearer token sent to the webhook.
	TokenFile string `yaml:"token_file"`
	// Timeout bounds one attempt.
	Timeout time.Duration `yaml:"timeout"`
	// MaxInFlight bounds the hook invocations running at once.
	MaxInFlight int `yaml:"max_in_flight"`
	// BackoffInitial and BackoffMax bound the pause between attempts.
	BackoffInitial time.Duration `yaml:"backoff_initial"`
	BackoffMax     time.Duration `yaml:"backoff_max"`
	// MaxAttempts stops retrying one request after this many attempts
	// (0: retry while this member leads).
	MaxAttempts int `yaml:"max_attempts"`
	// BootTimeout is how long a provision request may wait for its servers
	// to join (or a release for its hosts to leave) before the pool stops
	// counting it; what is still missing is then asked for again under a
	// new id.
	BootTimeout time.Duration `yaml:"boot_timeout"`
}

func defaultProvisioner() ProvisionerConfig {
	d := provision.DefaultConfig()
	return ProvisionerConfig{Timeout: d.Timeout, MaxInFlight: d.MaxInFlight, BackoffInitial: d.BackoffInitial,
		BackoffMax: d.BackoffMax, BootTimeout: 15 * time.Minute}
}

// enabled reports whether a hook is configured.
func (p ProvisionerConfig) enabled() bool { return len(p.Command) > 0 || p.Webhook != "" }

// clientConfig is the hook client's configuration, token left empty.
func (p ProvisionerConfig) clientConfig() provision.Config {
	c := provision.DefaultConfig()
	c.Command, c.Webhook = p.Command, p.Webhook
	c.Timeout, c.MaxInFlight, c.MaxAttempts = p.Timeout, p.MaxInFlight, p.MaxAttempts
	c.BackoffInitial, c.BackoffMax = p.BackoffInitial, p.BackoffMax
	return c
}

// validate reports every problem of the section, each naming its key.
func (p ProvisionerConfig) validate() error {
	if !p.enabled() {
		if p.TokenFile != "" {
			return errors.New("provisioner.token_file: set only with provisioner.webhook")
		}
		return nil
	}
	var errs []error
	if err := p.clientConfig().Validate(); err != nil {
		errs = append(errs, err)
	}
	if p.TokenFile != "" && p.Webhook == "" {
		errs = append(errs, errors.New("provisioner.token_file: set only with provisioner.webhook"))
	}
	if p.BootTimeout <= 0 {
		errs = append(errs, fmt.Errorf("provisioner.boot_timeout: %s must be positive", p.BootTimeout))
	}
	return errors.Join(errs...)
}

// hookConfig is the hook client's configuration with the webhook token
// read from its file.
func (p ProvisionerConfig) hookConfig() (provision.Config, error) {
	c := p.clientConfig()
	if p.TokenFile != "" {
		b, err := os.ReadFile(p.TokenFile)
		if err != nil {
			return c, fmt.Errorf("provisioner.token_file: %w", err)
		}
		c.Token = strings.TrimSpace(string(b))
	}
	return c, nil
}
