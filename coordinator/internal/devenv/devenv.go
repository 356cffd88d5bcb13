package devenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/understudy/understudy/agent/hostagent"
	"github.com/understudy/understudy/coordinator/server"
	"github.com/understudy/understudy/pkg/gossip"
	"github.com/understudy/understudy/test/gridlogin"
)

// Options configure the dev environment.
type Options struct {
	HTTPAddr string
	DNSAddr  string
	// DataDir holds every component's data; empty means a temporary
	// directory removed on exit.
	DataDir string
	Version string
	Logger  *slog.Logger
	// Out receives the banner with addresses, tokens and a dig line.
	Out io.Writer
	// Ready, if set, is called with the running coordinator once the
	// banner is printed.
	Ready func(*server.Server)
}

// Run starts everything and blocks until ctx is done.
func Run(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	dir := o.DataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "understudy-dev-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	key, err := gossip.GenerateKey()
	if err != nil {
		return err
	}
	adminTok, agentTok := token(), token()

	cfg := server.DefaultConfig()
	cfg.NodeName = "coord-1"
	cfg.DataDir = filepath.Join(dir, "coord-1")
	cfg.BindAddr = "127.0.0.1"
	cfg.BootstrapExpect = 1
	cfg.Encrypt = key
	cfg.ACL = server.ACLConfig{AdminToken: adminTok, AgentToken: agentTok}
	cfg.GossipProfile = string(gossip.ProfileFast)
	cfg.Ports = server.Ports{}
	if cfg.Ports.HTTP, err = portOf(o.HTTPAddr); err != nil {
		return fmt.Errorf("--http-addr: %w", err)
	}
	if cfg.Ports.DNS, err = portOf(o.DNSAddr); err != nil {
		return fmt.Errorf("--dns-addr: %w", err)
	}
	coord, err := server.New(cfg, o.Logger.With("node", cfg.NodeName), server.WithVersion(o.Version))
	if err != nil {
		return err
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return coord.Run(gctx) })

	// Each host has its own loopback address, so DNS answers tell them
	// apart; the login service runs in process, started and stopped by the
	// agent like any supervised service.
	type hostSpec struct{ name, role, ip string }
	var logins []string
	for _, h := range []hostSpec{{"primary", "active", "127.0.0.2"}, {"standby", "standby", "127.0.0.3"}} {
		loginDir := filepath.Join(dir, h.name, "login")
		if err := os.MkdirAll(loginDir, 0o755); err != nil {
			return err
		}
		if err := gridlogin.AddAccount(loginDir, "Test", "User", "password"); err != nil {
			return err
		}
		loginAddr := net.JoinHostPort(h.ip, strconv.Itoa(loginPort))
		ctl := gridlogin.NewController(gridlogin.Config{Grid: "Devgrid", Instance: h.name, DataDir: loginDir, Addr: loginAddr})
		logins = append(logins, loginAddr)

		acfg := hostagent.DefaultConfig()
		acfg.NodeName = h.name
		acfg.DataDir = filepath.Join(dir, h.name, "agent")
		acfg.Role = h.role
		acfg.BindAddr = h.ip
		acfg.Ports = hostagent.Ports{}
		acfg.RetryJoin = []string{coord.GossipAddr()}
		acfg.Encrypt = key
		acfg.Token = agentTok
		acfg.GossipProfile = string(gossip.ProfileFast)
		acfg.Services = []hostagent.Service{{
			Name: "login", Grid: "devgrid", Port: loginPort, Tags: []string{"robust", "login"}, Standby: "hot",
			Check: &hostagent.CheckConfig{HTTP: "http://" + loginAddr + "/get_grid_info", Interval: time.Second},
		}}
		ag, err := hostagent.New(acfg, o.Logger.With("node", h.name), hostagent.WithVersion(o.Version),
			hostagent.WithController("login", ctl))
		if err != nil {
			return err
		}
		g.Go(func() error { return ag.Run(gctx) })
	}

	_, dnsPort, _ := net.SplitHostPort(coord.DNSAddr())
	http := coord.HTTPAddr()
	fmt.Fprintf(o.Out, `Understudy dev environment is running (Ctrl-C to stop).

  status page    http://%[1]s/ui/
  admin API      http://%[1]s   (export UNDERSTUDY_HTTP_ADDR=%[1]s)
  DNS            %[2]s (UDP and TCP), zone %[3]s
  login front    http://%[4]s/grid/devgrid/
  gossip         %[5]s  key %[6]s
  admin token    %[7]s
  agent token    %[8]s
  login service  primary %[9]s, hot standby %[10]s (account "Test User", password "password")
  data           %[11]s

Try:
  dig @127.0.0.1 -p %[12]s login.service.understudy
  dig @127.0.0.1 -p %[12]s login.service.understudy SRV
  understudy-coordinator services --addr %[1]s
  understudy-coordinator failover login --addr %[1]s --token %[7]s
`, http, coord.DNSAddr(), cfg.DNS.Zone, coord.LoginAddr(), coord.GossipAddr(), key,
		adminTok, agentTok, logins[0], logins[1], dir, dnsPort)
	if o.Ready != nil {
		o.Ready(coord)
	}
	return g.Wait()
}

// loginPort is where the stand-in login services listen, each on its host's
// loopback address.
const loginPort = 8002

func token() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// portOf returns the port of a 127.0.0.1 listen address: dev mode listens
// on 127.0.0.1 only.
func portOf(addr string) (int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	if host != "127.0.0.1" {
		return 0, fmt.Errorf("%s: dev mode listens on 127.0.0.1 only", addr)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return 0, fmt.Errorf("%s: bad port", addr)
	}
	return n, nil
}
