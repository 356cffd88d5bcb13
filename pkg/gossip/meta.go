package gossip

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/hashicorp/memberlist"
)

// Kind says what sort of Understudy process a member is.
type Kind string

// The kinds of member in the pool.
const (
	KindCoordinator Kind = "coordinator"
	KindAgent       Kind = "agent"
)

// Role is an agent host's place in its pool. Coordinators have no role.
type Role string

// The roles an agent host can have.
const (
	RoleActive  Role = "active"
	RoleStandby Role = "standby"
)

// MetaVersion is the format version byte that leads every encoded [Meta].
const MetaVersion byte = 1

// MetaMaxSize is the largest encoded [Meta] memberlist will carry.
const MetaMaxSize = memberlist.MetaMaxSize

var (
	// ErrMetaTooLarge is returned by [Meta.Encode] when the encoding does not
	// fit in [MetaMaxSize] bytes.
	ErrMetaTooLarge = errors.New("gossip: node metadata too large")
	// ErrMetaVersion is returned by [DecodeMeta] for a format version this
	// build does not know.
	ErrMetaVersion = errors.New("gossip: unknown node metadata version")
)

// Meta is the typed metadata every member gossips about itself. It changes
// rarely (role changes, upgrades); fast-changing state such as check status
// travels separately (see [Pool.SetChecks]).
//
// The JSON names are short because the whole encoding must fit in
// [MetaMaxSize] bytes.
type Meta struct {
	Kind    Kind   `json:"k"`
	HostID  string `json:"h,omitempty"`
	Region  string `json:"r,omitempty"`
	Role    Role   `json:"ro,omitempty"`
	Version string `json:"v,omitempty"`

	// Coordinator addresses, host:port.
	RaftAddr string `json:"ra,omitempty"`
	HTTPAddr string `json:"ha,omitempty"`
	DNSAddr  string `json:"da,omitempty"`

	// MirrorAddr is an agent's chunk mirroring address, host:port.
	MirrorAddr string `json:"ma,omitempty"`
}

// Validate reports every problem with m.
func (m Meta) Validate() error {
	var errs []error
	switch m.Kind {
	case KindCoordinator:
		if m.Role != "" {
			errs = append(errs, fmt.Errorf("meta: a coordinator has no role, got %q", m.Role))
		}
		if m.MirrorAddr != "" {
			errs = append(errs, errors.New("meta: a coordinator has no mirror address"))
		}
	case KindAgent:
		if m.Role != RoleActive && m.Role != RoleStandby {
			errs = append(errs, fmt.Errorf("meta: agent role must be %q or %q, got %q", RoleActive, RoleStandby, m.Role))
		}
		if m.RaftAddr != "" || m.HTTPAddr != "" || m.DNSAddr != "" {
			errs = append(errs, errors.New("meta: an agent has no raft, http or dns address"))
		}
	default:
		errs = append(errs, fmt.Errorf("meta: kind must be %q or %q, got %q", KindCoordinator, KindAgent, m.Kind))
	}
	for _, a := range []struct{ name, addr string }{
		{"raft address", m.RaftAddr},
		{"http address", m.HTTPAddr},
		{"dns address", m.DNSAddr},
		{"mirror address", m.MirrorAddr},
	} {
		if a.addr == "" {
			continue
		}
		if err := checkHostPort(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("meta: %s %q: %w", a.name, a.addr, err))
		}
	}
	return errors.Join(errs...)
}

func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" {
		return errors.New("missing host")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// Encode validates m and returns its wire form: [MetaVersion] followed by
// JSON. It returns an error wrapping [ErrMetaTooLarge] if the result would
// not fit in [MetaMaxSize] bytes.
func (m Meta) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	js, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("gossip: encode meta: %w", err)
	}
	buf := make([]byte, 0, 1+len(js))
	buf = append(buf, MetaVersion)
	buf = append(buf, js...)
	if len(buf) > MetaMaxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMetaTooLarge, len(buf), MetaMaxSize)
	}
	return buf, nil
}

// DecodeMeta parses the wire form written by [Meta.Encode]. Fields it does
// not know are ignored, so newer members can add fields without breaking
// older ones; a different leading version byte is an error wrapping
// [ErrMetaVersion]. It does not validate the result: a member's metadata is
// reported as it was gossiped.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 {
		return m, errors.New("gossip: decode meta: empty")
	}
	if b[0] != MetaVersion {
		return m, fmt.Errorf("%w: %d", ErrMetaVersion, b[0])
	}
	if err := json.Unmarshal(b[1:], &m); err != nil {
		return Meta{}, fmt.Errorf("gossip: decode meta: %w", err)
	}
	return m, nil
}
