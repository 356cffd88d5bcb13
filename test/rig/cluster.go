package rig

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/pkg/gossip"
)

// Tokens the rig's coordinators accept.
const (
	AdminToken = "admin-secret"
	AgentToken = "agent-secret"
)

// ServicePort is the fixed port of the login service on every host.
const ServicePort = 8002

var ipSeq atomic.Uint32

// nextIP returns a loopback address of its own: 127.X.Y.Z with X and Y
// derived from the process id (Y with its top bit flipped, apart from the
// addresses test/harness.NextIP derives the same way in the benchmarks'
// process) and Z counting up.
func nextIP() string {
	pid := os.Getpid()
	n := ipSeq.Add(1)
	return fmt.Sprintf("127.%d.%d.%d", 1+(pid>>8)%250, (pid%256)^0x80, 1+n%250)
}

var gidSeq atomic.Uint32

// nextGID returns a group id no one else uses, for matching a process's
// sockets in nftables rules.
func nextGID() int { return 40000 + os.Getpid()%10000*4 + int(gidSeq.Add(1)%4) }

// Spec describes a cluster.
type Spec struct {
	Bins Binaries
	// Profile is the gossip profile of coordinators and agents ("fast").
	Profile string
	// Extra is YAML appended to every coordinator's configuration.
	Extra string
	// Coordinators is how many coordinators to start: 0 means three.
	Coordinators int
}

// Cluster is the coordinator processes (three unless the spec says
// otherwise) and the hosts started on them.
type Cluster struct {
	t      testing.TB
	spec   Spec
	key    string
	gid    int // the coordinators' group id
	ca     *mirrorCA
	Coords []*Coord
}

// Coord is one coordinator process and the addresses it bound.
type Coord struct {
	*Proc
	IP                             string
	HTTP, DNS, Raft, Gossip, Login string
}

var reStarting = regexp.MustCompile(`msg="coordinator starting".* http=(\S+) dns=(\S+) raft=(\S+) gossip=(\S+) login=(\S+)`)

// Start starts the coordinators (three unless spec.Coordinators says
// otherwise), each on its own loopback address, and waits until they have
// a leader.
func Start(t testing.TB, spec Spec) *Cluster {
	t.Helper()
	key, err := gossip.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	n := spec.Coordinators
	if n == 0 {
		n = 3
	}
	c := &Cluster{t: t, spec: spec, key: key, gid: nextGID(), ca: &mirrorCA{dir: t.TempDir()}}
	for i := range n {
		name := fmt.Sprintf("coord-%d", i+1)
		ip := nextIP()
		join := ""
		if i > 0 {
			join = fmt.Sprintf("retry_join: [%s]\n", c.Coords[0].Gossip)
		}
		dir := t.TempDir()
		cfg := fmt.Sprintf(`node_name: %s
data_dir: %s
bind_addr: %s
ports: {raft: 0, gossip: 0, http: 0, dns: 0, login: 0}
bootstrap_expect: %d
%sencrypt: %q
acl: {admin_token: %s, agent_token: %s}
gossip_profile: %s
log_level: info
%s`, name, dir, ip, n, join, key, AdminToken, AgentToken, spec.Profile, spec.Extra)
		path := filepath.Join(dir, "coordinator.yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		p := StartProc(t, name, c.gid, spec.Bins.Coordinator, "serve", "--config", path)
		var m []string
		Eventually(t, 20*time.Second, name+" to start", func() bool {
			for _, l := range p.Lines() {
				if m = reStarting.FindStringSubmatch(l); m != nil {
					return true
				}
			}
			return p.Exited()
		})
		if m == nil {
			t.Fatalf("%s exited at start", name)
		}
		c.Coords = append(c.Coords, &Coord{Proc: p, IP: ip, HTTP: m[1], DNS: m[2], Raft: m[3], Gossip: m[4], Login: m[5]})
	}
	Eventually(t, 30*time.Second, "a leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		l, err := api.NewClient(c.Coords[0].HTTP, "").Leader(ctx)
		return err == nil && l.ID != ""
	})
	return c
}

// IPs returns the coordinators' addresses.
func (c *Cluster) IPs() []string {
	var out []string
	for _, p := range c.Coords {
		out = append(out, p.IP)
	}
	return out
}

// GossipAddrs returns the coordinators' gossip addresses, which agents
// join.
func (c *Cluster) GossipAddrs() []string {
	var out []string
	for _, p := range c.Coords {
		out = append(out, p.Gossip)
	}
	return out
}

// Key is the gossip encryption key of the cluster, for agents configured
// by the test itself.
func (c *Cluster) Key() string { return c.key }

// MirrorTLS issues host (an agent's node name) a mirror certificate from
// the cluster's test CA and returns the agent configuration's tls section.
func (c *Cluster) MirrorTLS(host string) string {
	c.t.Helper()
	f, err := c.ca.issue(host)
	if err != nil {
		c.t.Fatal(err)
	}
	return f.yaml()
}

// DNSAddrs returns the coordinators' DNS addresses.
func (c *Cluster) DNSAddrs() []string {
	var out []string
	for _, p := range c.Coords {
		out = append(out, p.DNS)
	}
	return out
}

// Client returns an admin client of the first coordinator that is still
// running.
func (c *Cluster) Client() *api.Client {
	for _, p := range c.Coords {
		if !p.Exited() {
			return api.NewClient(p.HTTP, AdminToken)
		}
	}
	return api.NewClient(c.Coords[0].HTTP, AdminToken)
}

// Host is one agent process on its own loopback address.
type Host struct {
	*Proc
	Name string
	IP   string
	// Dir is the agent's data directory; Data, inside it, the login
	// service's (the dataset login-data when the host mirrors).
	Dir, Data string
	gid       int
}

// HostSpec describes an agent host.
type HostSpec struct {
	Name string
	Role string // active or standby
	// Services is the YAML list under services:, with the placeholders
	// {IP} (the host's address), {DIR} (its data directory), {PORT} (the
	// service port), {DATA} (the service's data directory), {NAME} (the
	// host's name) and {GRIDLOGIN} (the login service binary).
	Services string
	// Mirror protects the login service's data directory as the dataset
	// login-data, mirrored to the other instances over mutual TLS with
	// certificates from the cluster's test CA.
	Mirror bool
	// MirrorClass is the dataset's class: "user" (the default: snapshots
	// when the agent starts and every minute) or "transactional" (shipped
	// continuously).
	MirrorClass string
	// Prepare, when set, is called with the service's data directory
	// before the agent starts.
	Prepare func(data string) error
}

// LoginService is the grid osgrid's login service, supervised by the
// agent, with an HTTP check on get_grid_info; standby is "cold" or "hot".
func LoginService(standby string) string {
	return `  - name: login
    grid: osgrid
    port: {PORT}
    tags: [login]
    standby: ` + standby + `
    run: [{GRIDLOGIN}, --addr, "{IP}:{PORT}", --data-dir, "{DATA}", --grid, osgrid, --instance, "{NAME}"]
    check: {http: "http://{IP}:{PORT}/get_grid_info", interval: 250ms, timeout: 200ms,
            failures_before_critical: 2, successes_before_passing: 1}
`
}

// StartHost starts an agent on a fresh loopback address under a group id
// of its own, joined to the coordinators.
func (c *Cluster) StartHost(spec HostSpec) *Host {
	t := c.t
	t.Helper()
	h := &Host{Name: spec.Name, IP: nextIP(), Dir: t.TempDir(), gid: nextGID()}
	h.Data = filepath.Join(h.Dir, "data")
	if err := os.MkdirAll(h.Data, 0o700); err != nil {
		t.Fatal(err)
	}
	if spec.Prepare != nil {
		if err := spec.Prepare(h.Data); err != nil {
			t.Fatal(err)
		}
	}
	svc := strings.NewReplacer("{IP}", h.IP, "{DIR}", h.Dir, "{DATA}", h.Data, "{PORT}", fmt.Sprint(ServicePort),
		"{GRIDLOGIN}", c.spec.Bins.Gridlogin, "{NAME}", spec.Name).Replace(spec.Services)
	mirror := ""
	if spec.Mirror {
		class := spec.MirrorClass
		if class == "" {
			class = "user"
		}
		svc += "    datasets: [login-data]\n"
		mirror = c.MirrorTLS(spec.Name) + fmt.Sprintf("datasets:\n  - {name: login-data, path: %q, class: %s}\n", h.Data, class)
	}
	cfg := fmt.Sprintf(`node_name: %s
data_dir: %s
role: %s
bind_addr: %s
ports: {gossip: 0, http: 0, mirror: 0}
retry_join: [%s]
encrypt: %q
token: %s
gossip_profile: %s
log_level: info
%sservices:
%s`, spec.Name, h.Dir, spec.Role, h.IP, strings.Join(c.GossipAddrs(), ", "), c.key, AgentToken, c.spec.Profile, mirror, svc)
	path := filepath.Join(h.Dir, "agent.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	h.Proc = StartProc(t, spec.Name, h.gid, c.spec.Bins.Agent, "run", "--config", path)
	return h
}

// ServiceAddr is the host's login service address.
func (h *Host) ServiceAddr() string { return fmt.Sprintf("%s:%d", h.IP, ServicePort) }

// ServicePIDs returns the processes the agent supervises (its children).
func (h *Host) ServicePIDs() []int { return Children(h.Pid()) }
