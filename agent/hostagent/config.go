package hostagent

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/understudy/understudy/agent/internal/health"
	"github.com/understudy/understudy/pkg/gossip"
	"github.com/understudy/understudy/pkg/yamlconfig"
)

// Config is an agent's configuration, as written in its YAML file.
type Config struct {
	NodeName string `yaml:"node_name"`
	DataDir  string `yaml:"data_dir"`
	Region   string `yaml:"region"`
	// Role is active (runs its services) or standby (holds mirrors, ready
	// to take over).
	Role string `yaml:"role"`
	// BindAddr is the IP address the agent's listeners bind to.
	BindAddr string `yaml:"bind_addr"`
	// AdvertiseAddr is the IP address coordinators and clients reach this
	// host on; empty means BindAddr, which must then be specific.
	AdvertiseAddr string `yaml:"advertise_addr"`
	Ports         Ports  `yaml:"ports"`
	// RetryJoin lists gossip addresses of coordinators (or other members).
	RetryJoin []string `yaml:"retry_join"`
	// Encrypt is the base64 gossip key shared by the cluster.
	Encrypt string `yaml:"encrypt"`
	// Token is the agent token that lets this host register itself.
	Token         string    `yaml:"token"`
	GossipProfile string    `yaml:"gossip_profile"`
	Services      []Service `yaml:"services"`
	LogLevel      string    `yaml:"log_level"`
	// TLS holds the mirror credentials; without them the agent neither
	// serves nor sends mirrors.
	TLS *TLSFiles `yaml:"tls"`
	// MirrorBandwidth limits each outgoing mirror, in bytes per second;
	// zero means no limit.
	MirrorBandwidth int64 `yaml:"mirror_bandwidth"`
	// Compression is how the agent's store compresses chunks (see
	// [store.Compression]); empty means the store's own setting.
	Compression string `yaml:"compression"`
	// Datasets are the directories this host protects (as a source) or
	// keeps a warm copy of (as a standby).
	Datasets []Dataset `yaml:"datasets"`
	// Archives are second-tier copies of the snapshots.
	Archives []Archive `yaml:"archives"`
	// Alerts configures where data protection alerts go besides the log.
	Alerts Alerts `yaml:"alerts"`
}

// Ports are the agent's listen ports; 0 picks a free one.
type Ports struct {
	Gossip int `yaml:"gossip"`
	// HTTP serves /metrics and /v1/health.
	HTTP int `yaml:"http"`
	// Mirror receives snapshots from other agents (mutual TLS).
	Mirror int `yaml:"mirror"`
}

// DefaultHTTPPort is the agent's default metrics and health port.
const DefaultHTTPPort = 8401

// Service is one service this host runs (as primary) or stands by for.
type Service struct {
	Name string   `yaml:"name"`
	Grid string   `yaml:"grid"`
	Port int      `yaml:"port"`
	Tags []string `yaml:"tags"`
	// Check is the service's health check; without one the service counts
	// as passing while its host is alive.
	Check *CheckConfig `yaml:"check"`
	// Run is a command the agent runs and supervises itself while the host
	// serves the service.
	Run []string `yaml:"run"`
	// Start and Stop are commands that start and stop a service managed
	// elsewhere (systemd). Give Run, or Start and Stop, or neither (the
	// agent then only registers the service).
	Start []string `yaml:"start"`
	Stop  []string `yaml:"stop"`
	// Standby is "cold" (default: the service runs only on the primary) or
	// "hot" (it runs on standbys too, for stateless services such as a
	// login service).
	Standby string `yaml:"standby"`
	// Datasets names the datasets the service's data lives in.
	Datasets []string `yaml:"datasets"`
}

// CheckConfig is a service's health check: exactly one of http, tcp or
// command, with interval, timeout and anti-flap thresholds.
type CheckConfig = health.CheckConfig

// DefaultConfig returns the defaults every file is decoded over.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		NodeName:      host,
		DataDir:       "/var/lib/understudy/agent",
		Region:        "default",
		Role:          "active",
		BindAddr:      "0.0.0.0",
		Ports:         Ports{Gossip: gossip.DefaultPort, HTTP: DefaultHTTPPort, Mirror: DefaultMirrorPort},
		GossipProfile: string(gossip.ProfileLAN),
		LogLevel:      "info",
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

// Validate reports every problem in c.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.NodeName == "" {
		add("node_name: must be set")
	}
	if c.DataDir == "" {
		add("data_dir: must be set")
	}
	if c.Role != string(gossip.RoleActive) && c.Role != string(gossip.RoleStandby) {
		add("role: %q is not active or standby", c.Role)
	}
	errs = append(errs, gossip.SettingsErrors(c.BindAddr, c.AdvertiseAddr, c.Encrypt, c.GossipProfile)...)
	if c.Ports.Gossip < 0 || c.Ports.Gossip > 65535 {
		add("ports.gossip: %d is out of range", c.Ports.Gossip)
	}
	if c.Ports.HTTP < 0 || c.Ports.HTTP > 65535 {
		add("ports.http: %d is out of range", c.Ports.HTTP)
	}
	if len(c.RetryJoin) == 0 {
		add("retry_join: list at least one coordinator")
	}
	if c.Token == "" {
		add("token: must be set (the coordinators' agent token)")
	}
	seen := map[string]bool{}
	for i, s := range c.Services {
		switch {
		case s.Name == "":
			add("services[%d].name: must be set", i)
		case seen[s.Name]:
			add("services[%d].name: %q listed twice", i, s.Name)
		}
		seen[s.Name] = true
		if s.Port < 1 || s.Port > 65535 {
			add("services[%d].port: %d is out of range", i, s.Port)
		}
		if s.Check != nil {
			if err := s.Check.Validate(); err != nil {
				add("services[%d].check: %s", i, strings.ReplaceAll(err.Error(), "\n", "; "))
			}
		}
		switch {
		case len(s.Run) > 0 && (len(s.Start) > 0 || len(s.Stop) > 0):
			add("services[%d]: give run, or start and stop, not both", i)
		case (len(s.Start) > 0) != (len(s.Stop) > 0):
			add("services[%d]: start and stop go together", i)
		}
		if s.Standby != "" && s.Standby != "hot" && s.Standby != "cold" {
			add("services[%d].standby: %q is not hot or cold", i, s.Standby)
		}
	}
	errs = append(errs, c.validateData()...)
	errs = append(errs, c.validateArchives()...)
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
