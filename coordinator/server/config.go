package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/understudy/understudy/pkg/gossip"
	"github.com/understudy/understudy/pkg/yamlconfig"
)

// Config is a coordinator's configuration, as written in its YAML file.
type Config struct {
	NodeName string `yaml:"node_name"`
	DataDir  string `yaml:"data_dir"`
	Region   string `yaml:"region"`
	// BindAddr is the IP address every listener binds to.
	BindAddr string `yaml:"bind_addr"`
	// AdvertiseAddr is the IP address other members reach this one on;
	// empty means BindAddr, which must then be a specific address.
	AdvertiseAddr string `yaml:"advertise_addr"`
	Ports         Ports  `yaml:"ports"`
	// BootstrapExpect is the number of coordinators to wait for before the
	// first election. 1 bootstraps a single node at once.
	BootstrapExpect int `yaml:"bootstrap_expect"`
	// RetryJoin lists gossip addresses ("host" or "host:port") of other
	// members to join, retried until one answers.
	RetryJoin []string `yaml:"retry_join"`
	// Encrypt is the base64 gossip encryption key shared by every member.
	Encrypt string    `yaml:"encrypt"`
	ACL     ACLConfig `yaml:"acl"`
	DNS     DNSConfig `yaml:"dns"`
	// GossipProfile selects failure detection timings, "lan" or "fast";
	// "fast" also shortens Raft's election timeouts and the default lease.
	GossipProfile string         `yaml:"gossip_profile"`
	Failover      FailoverConfig `yaml:"failover"`
	Login         LoginConfig    `yaml:"login"`
	// Provisioner is the hook the standby pools ask for servers.
	Provisioner ProvisionerConfig `yaml:"provisioner"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
}

// Ports are the listen ports; 0 picks a free port.
type Ports struct {
	Raft   int `yaml:"raft"`
	Gossip int `yaml:"gossip"`
	HTTP   int `yaml:"http"`
	DNS    int `yaml:"dns"`
	// Login is the grid login front that viewers' login URIs point at.
	Login int `yaml:"login"`
}

// LoginConfig configures the grid login front.
type LoginConfig struct {
	// Hosts maps a Host header (the name in a grid's login URI) to the
	// grid; without it grids are reached as /grid/NAME/.
	Hosts map[string]string `yaml:"hosts"`
	// Timeout bounds one attempt at one login instance.
	Timeout time.Duration `yaml:"timeout"`
}

// ACLConfig holds the shared secrets of the admin API.
type ACLConfig struct {
	// AdminToken authorises every write through the API and CLI.
	AdminToken string `yaml:"admin_token"`
	// AgentToken authorises agents to register their hosts and services.
	AgentToken string `yaml:"agent_token"`
}

// DNSConfig configures the authoritative DNS server.
type DNSConfig struct {
	Zone        string        `yaml:"zone"`
	TTL         time.Duration `yaml:"ttl"`
	NegativeTTL time.Duration `yaml:"negative_ttl"`
	// MaxStale is how long a coordinator cut off from the leader keeps
	// answering; 0 answers forever.
	MaxStale time.Duration `yaml:"max_stale"`
	// RateLimit is responses per second per source network; 0 is off.
	RateLimit int `yaml:"rate_limit"`
}

// FailoverConfig tunes automatic failover.
type FailoverConfig struct {
	// LeaseTTL is how long a primary may serve without renewing its lease;
	// 0 means 10s with the lan profile and 2s with fast.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// Grace is how long a primary's check must stay critical before it
	// counts as down.
	Grace time.Duration `yaml:"grace"`
	// MinInterval is the least time between two check-driven failovers of
	// one service.
	MinInterval time.Duration `yaml:"min_interval"`
}

// leaseTTL returns the configured lease TTL or the profile's default.
func (c Config) leaseTTL() time.Duration {
	switch {
	case c.Failover.LeaseTTL > 0:
		return c.Failover.LeaseTTL
	case c.GossipProfile == string(gossip.ProfileFast):
		return 2 * time.Second
	}
	return 10 * time.Second
}

// Default ports.
const (
	DefaultRaftPort   = 8300
	DefaultGossipPort = 8301
	DefaultHTTPPort   = 8500
	DefaultDNSPort    = 8600
	DefaultLoginPort  = 8080
)

// DefaultConfig returns the defaults every file is decoded over.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		NodeName:        host,
		DataDir:         "/var/lib/understudy/coordinator",
		Region:          "default",
		BindAddr:        "0.0.0.0",
		Ports:           Ports{Raft: DefaultRaftPort, Gossip: DefaultGossipPort, HTTP: DefaultHTTPPort, DNS: DefaultDNSPort, Login: DefaultLoginPort},
		BootstrapExpect: 1,
		DNS:             DNSConfig{Zone: "understudy.", TTL: 5 * time.Second, NegativeTTL: 5 * time.Second},
		GossipProfile:   string(gossip.ProfileLAN),
		Failover:        FailoverConfig{Grace: 3 * time.Second, MinInterval: 30 * time.Second},
		Provisioner:     defaultProvisioner(),
		LogLevel:        "info",
	}
}

// LoadConfig reads a YAML file over DefaultConfig and validates it.
// Unknown keys are errors.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	if err := yamlconfig.Load(path, &cfg); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// ParseConfig decodes YAML from r over DefaultConfig and validates it; name
// is used in error messages.
func ParseConfig(r io.Reader, name string) (Config, error) {
	cfg := DefaultConfig()
	if err := yamlconfig.Parse(r, name, &cfg); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate reports every problem in c, one per line.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.NodeName == "" {
		add("node_name: must be set")
	}
	if c.DataDir == "" {
		add("data_dir: must be set")
	}
	errs = append(errs, gossip.SettingsErrors(c.BindAddr, c.AdvertiseAddr, c.Encrypt, c.GossipProfile)...)
	for _, p := range []struct {
		name string
		port int
	}{{"raft", c.Ports.Raft}, {"gossip", c.Ports.Gossip}, {"http", c.Ports.HTTP}, {"dns", c.Ports.DNS}, {"login", c.Ports.Login}} {
		if p.port < 0 || p.port > 65535 {
			add("ports.%s: %d is out of range", p.name, p.port)
		}
	}
	if c.BootstrapExpect < 1 {
		add("bootstrap_expect: must be at least 1, got %d", c.BootstrapExpect)
	}
	if c.ACL.AdminToken == "" {
		add("acl.admin_token: must be set (every write needs it)")
	}
	if c.ACL.AgentToken != "" && c.ACL.AgentToken == c.ACL.AdminToken {
		add("acl.agent_token: must differ from acl.admin_token")
	}
	if c.DNS.Zone == "" {
		add("dns.zone: must be set")
	}
	if c.DNS.TTL < 0 || c.DNS.NegativeTTL < 0 || c.DNS.MaxStale < 0 {
		add("dns: durations must not be negative")
	}
	if c.Failover.LeaseTTL < 0 || c.Failover.Grace < 0 || c.Failover.MinInterval < 0 {
		add("failover: durations must not be negative")
	}
	if c.Login.Timeout < 0 {
		add("login.timeout: must not be negative")
	}
	if c.DNS.RateLimit < 0 {
		add("dns.rate_limit: must not be negative")
	}
	if err := c.Provisioner.validate(); err != nil {
		errs = append(errs, err)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		add("log_level: %q is not debug, info, warn or error", c.LogLevel)
	}
	return errors.Join(errs...)
}

func (c Config) advertiseIP() string {
	if c.AdvertiseAddr != "" {
		return c.AdvertiseAddr
	}
	return c.BindAddr
}
