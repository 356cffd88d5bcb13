package provision

import (
	"errors"
	"fmt"
	"slices"
)

// Kind is what a [Request] asks for.
type Kind string

// The request kinds.
const (
	// KindProvision asks for Count new standby servers in Region.
	KindProvision Kind = "provision"
	// KindRelease gives back idle standby servers: the named Hosts, or any
	// Count of them when Hosts is empty.
	KindRelease Kind = "release"
	// KindRestart asks for the named Hosts to be restarted.
	KindRestart Kind = "restart"
)

// Request is what the hook receives, as JSON.
type Request struct {
	// ID identifies the request. The hook must treat a repeated ID as the
	// same request (answer it again, do not act twice).
	ID     string   `json:"id"`
	Kind   Kind     `json:"kind"`
	Region string   `json:"region"`
	Count  int      `json:"count,omitempty"`
	Hosts  []string `json:"hosts,omitempty"`
	// Reason is free text for the hook's logs.
	Reason string `json:"reason,omitempty"`
}

// Response is the hook's answer, as JSON.
type Response struct {
	// ID echoes the request's ID; it may be left empty.
	ID string `json:"id,omitempty"`
	// Hosts names the servers provisioned, released or restarted. It may
	// list fewer than asked: the controller asks again for what is still
	// missing at a later tick, under a new ID.
	Hosts []string `json:"hosts,omitempty"`
	// Error, when set, is a deliberate refusal: the client does not retry.
	Error string `json:"error,omitempty"`
	// Message is free text for the coordinator's logs.
	Message string `json:"message,omitempty"`
}

// Validate reports what is wrong with r.
func (r Request) Validate() error {
	var errs []error
	if r.ID == "" {
		errs = append(errs, errors.New("id is empty"))
	}
	if r.Region == "" {
		errs = append(errs, errors.New("region is empty"))
	}
	if r.Count < 0 {
		errs = append(errs, fmt.Errorf("count %d is negative", r.Count))
	}
	switch r.Kind {
	case KindProvision:
		if r.Count < 1 {
			errs = append(errs, errors.New("provision needs a count of at least 1"))
		}
	case KindRelease:
		if r.Count < 1 && len(r.Hosts) == 0 {
			errs = append(errs, errors.New("release needs hosts or a count"))
		}
	case KindRestart:
		if len(r.Hosts) == 0 {
			errs = append(errs, errors.New("restart needs hosts"))
		}
	default:
		errs = append(errs, fmt.Errorf("kind %q is not provision, release or restart", r.Kind))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, errors.Join(errs...))
	}
	return nil
}

// same reports whether r and o ask for the same thing (Reason aside).
func (r Request) same(o Request) bool {
	return r.ID == o.ID && r.Kind == o.Kind && r.Region == o.Region && r.Count == o.Count &&
		slices.Equal(r.Hosts, o.Hosts)
}
