package gossip

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/memberlist"
)

// DefaultPort is the gossip port used when an address names no port.
const DefaultPort = 8301

// DefaultDeadRetention is how long [Pool.Members] keeps reporting a member
// that failed or left, unless [Config.DeadRetention] says otherwise.
const DefaultDeadRetention = time.Hour

// maxNodeNameLen bounds node names so that check-status messages stay small.
const maxNodeNameLen = 128

// Profile selects the failure detector's timings. See the package
// documentation for the trade-off.
type Profile string

// The failure detection profiles.
const (
	// ProfileLAN uses memberlist's LAN defaults: a dead node is declared
	// dead in roughly 5 to 10 seconds and slow or lossy hosts are tolerated.
	ProfileLAN Profile = "lan"
	// ProfileFast declares a dead node dead in about 2 seconds on a LAN, at
	// the price of more probe traffic and less tolerance for stalls.
	ProfileFast Profile = "fast"
)

// Config configures a [Pool].
type Config struct {
	// NodeName is the unique name of this member, at most 128 bytes.
	NodeName string
	// BindAddr is the IP address to listen on for gossip (UDP and TCP).
	BindAddr string
	// BindPort is the gossip port; 0 picks a free one ([Pool.Addr] reports it).
	BindPort int
	// AdvertiseAddr and AdvertisePort are what other members use to reach
	// this one, when they differ from the bind address (NAT, 0.0.0.0).
	// Empty and 0 mean derive them from the bound address.
	AdvertiseAddr string
	AdvertisePort int
	// Key is a 16, 24 or 32 byte AES key that encrypts and authenticates
	// all gossip. Nil means no encryption. Members with a different key, or
	// without one, cannot join. See [ParseKey] and [GenerateKey].
	Key []byte
	// Profile selects failure detection timings; empty means [ProfileLAN].
	Profile Profile
	// Label, if set, is attached to every packet and stream; members with a
	// different label ignore this pool. It keeps clusters that share a
	// network apart. At most 255 bytes.
	Label string
	// Meta is this member's metadata, gossiped to all others.
	Meta Meta
	// DeadRetention is how long [Pool.Members] keeps a failed or left member.
	// 0 means [DefaultDeadRetention].
	DeadRetention time.Duration
	// Logger receives memberlist's log lines at matching levels. Nil
	// discards them.
	Logger *slog.Logger
	// OnProbe, when set, is called after each successful direct probe of
	// another member with the probe's round-trip time. It runs on
	// memberlist's probe goroutine and must be quick. Failed probes show
	// in [Pool.HealthScore] instead.
	OnProbe func(node string, rtt time.Duration)
}

// DefaultConfig returns a Config listening on every interface on
// [DefaultPort] with the LAN profile. NodeName and Meta must still be set.
func DefaultConfig() Config {
	return Config{
		BindAddr:      "0.0.0.0",
		BindPort:      DefaultPort,
		Profile:       ProfileLAN,
		DeadRetention: DefaultDeadRetention,
	}
}

// Validate reports every problem in c.
func (c Config) Validate() error {
	var errs []error
	if c.NodeName == "" {
		errs = append(errs, errors.New("gossip: node name is required"))
	} else if len(c.NodeName) > maxNodeNameLen {
		errs = append(errs, fmt.Errorf("gossip: node name is %d bytes, limit %d", len(c.NodeName), maxNodeNameLen))
	}
	if net.ParseIP(c.BindAddr) == nil {
		errs = append(errs, fmt.Errorf("gossip: bind address %q is not an IP address", c.BindAddr))
	}
	if c.BindPort < 0 || c.BindPort > 65535 {
		errs = append(errs, fmt.Errorf("gossip: bind port %d out of range 0-65535", c.BindPort))
	}
	if c.AdvertiseAddr != "" && net.ParseIP(c.AdvertiseAddr) == nil {
		errs = append(errs, fmt.Errorf("gossip: advertise address %q is not an IP address", c.AdvertiseAddr))
	}
	if c.AdvertisePort < 0 || c.AdvertisePort > 65535 {
		errs = append(errs, fmt.Errorf("gossip: advertise port %d out of range 0-65535", c.AdvertisePort))
	}
	if c.Key != nil {
		if err := memberlist.ValidateKey(c.Key); err != nil {
			errs = append(errs, fmt.Errorf("gossip: encryption key: %w", err))
		}
	}
	switch c.Profile {
	case "", ProfileLAN, ProfileFast:
	default:
		errs = append(errs, fmt.Errorf("gossip: profile must be %q or %q, got %q", ProfileLAN, ProfileFast, c.Profile))
	}
	if len(c.Label) > memberlist.LabelMaxSize {
		errs = append(errs, fmt.Errorf("gossip: label is %d bytes, limit %d", len(c.Label), memberlist.LabelMaxSize))
	}
	if c.DeadRetention < 0 {
		errs = append(errs, fmt.Errorf("gossip: dead retention %s is negative", c.DeadRetention))
	}
	if _, err := c.Meta.Encode(); err != nil {
		errs = append(errs, fmt.Errorf("gossip: %w", err))
	}
	return errors.Join(errs...)
}

// ParseKey decodes a base64 gossip key (the operator's `encrypt` setting)
// and checks its length.
func ParseKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("gossip: key is not base64: %w", err)
	}
	if err := memberlist.ValidateKey(key); err != nil {
		return nil, fmt.Errorf("gossip: key: %w", err)
	}
	return key, nil
}

// GenerateKey returns a new random 32-byte key in base64, as [ParseKey]
// reads it.
func GenerateKey() (string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("gossip: generate key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(key), nil
}

// memberlistConfig turns c into memberlist's configuration. Delegates are
// set by the caller.
func (c Config) memberlistConfig() *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	if c.Profile == ProfileFast {
		applyFastProfile(mc)
	}
	mc.Name = c.NodeName
	mc.BindAddr = c.BindAddr
	mc.BindPort = c.BindPort
	mc.AdvertiseAddr = c.AdvertiseAddr
	// An advertised address without a port advertises the bound port
	// (memberlist fills it in itself when BindPort is 0).
	mc.AdvertisePort = c.AdvertisePort
	if mc.AdvertisePort == 0 {
		mc.AdvertisePort = c.BindPort
	}
	mc.SecretKey = c.Key
	mc.Label = c.Label
	return mc
}

// applyFastProfile tunes memberlist so that a dead member is declared dead
// in about 2 s on a LAN, with Lifeguard (awareness, suspicion with
// confirmations, refutation) left on.
//
// Detection = time until someone probes the node (≤ ProbeInterval on
// average, since every member probes one node per interval) + ProbeTimeout
// and the indirect probes + the suspicion timeout, which is
// SuspicionMult × max(1, log10(n)) × ProbeInterval = 0.8 s below ten members
// and decays from SuspicionMaxTimeoutMult times that towards it as other
// members confirm the suspicion.
func applyFastProfile(mc *memberlist.Config) {
	mc.ProbeInterval = 200 * time.Millisecond
	mc.ProbeTimeout = 100 * time.Millisecond
	mc.SuspicionMult = 4
	mc.SuspicionMaxTimeoutMult = 3
	mc.GossipInterval = 100 * time.Millisecond
	mc.GossipNodes = 4
	mc.GossipToTheDeadTime = 15 * time.Second
	mc.PushPullInterval = 15 * time.Second
	mc.TCPTimeout = 2 * time.Second
}
