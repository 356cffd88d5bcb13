package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/understudy/understudy/coordinator/server"
	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/pkg/command"
)

// runAdmin runs an admin command built by newCmd with args.
func runAdmin(t *testing.T, newCmd func() *cobra.Command, args ...string) (string, error) {
	t.Helper()
	cmd := newCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return command.Usage(err) })
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

// singleCoordinator starts a one-node coordinator and waits until it leads.
func singleCoordinator(t *testing.T) *server.Server {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.NodeName = "c1"
	cfg.DataDir = t.TempDir()
	cfg.BindAddr = "127.0.0.1"
	cfg.Ports = server.Ports{}
	cfg.ACL = server.ACLConfig{AdminToken: "admin", AgentToken: "agent"}
	cfg.GossipProfile = "fast"
	s, err := server.New(cfg, slog.New(slog.DiscardHandler), server.WithAbsentGrace(time.Hour),
		server.WithRaftTimings(server.RaftTimings{Heartbeat: 100 * time.Millisecond, Election: 100 * time.Millisecond, LeaderLease: 50 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(10 * time.Second)
	for !s.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("no leader after 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

func TestPoolAdminCommands(t *testing.T) {
	s := singleCoordinator(t)
	addr := s.HTTPAddr()
	dir := t.TempDir()
	good := filepath.Join(dir, "policy.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("standby_floor: 1\nmax_servers: 5\nramp_down: 1m\n"), 0o644)
	os.WriteFile(bad, []byte("standby_floor: 1\nmax_servers: 5\nrampdown: 1m\n"), 0o644)

	// A bad policy is a usage error naming the key, and nothing is sent.
	_, err := runAdmin(t, newPoolSetCmd, "eu", "--policy", bad, "--addr", addr, "--token", "admin")
	var ue command.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "rampdown") {
		t.Fatalf("pool set with a bad policy: %v, want a usage error naming rampdown", err)
	}
	if _, err := runAdmin(t, newPoolGetCmd, "eu", "--addr", addr); err == nil || !strings.Contains(err.Error(), "no standby pool for region eu") {
		t.Fatalf("pool get of an unset region: %v", err)
	}
	if _, err := runAdmin(t, newPoolSetCmd, "eu", "--policy", good, "--addr", addr, "--token", "wrong"); !api.IsStatus(err, 403) {
		t.Fatalf("pool set with a wrong token: %v, want 403", err)
	}
	out, err := runAdmin(t, newPoolSetCmd, "eu", "--policy", good, "--addr", addr, "--token", "admin")
	if err != nil || !strings.Contains(out, "REGION") || !strings.Contains(out, "eu") {
		t.Fatalf("pool set: %v\n%s", err, out)
	}

	if err := api.NewClient(addr, "agent").Register(t.Context(), api.Registration{Name: "sb-1", Region: "eu", Role: "standby",
		Address: "10.0.0.1", Services: []api.ServiceDef{{Name: "login", Port: 8002}}}); err != nil {
		t.Fatal(err)
	}
	out, err = runAdmin(t, newAllocateCmd, "eu", "--service", "login", "--id", "x1", "--json", "--addr", addr, "--token", "admin")
	if err != nil {
		t.Fatal(err)
	}
	var a api.Allocation
	if err := json.Unmarshal([]byte(out), &a); err != nil || a.Host != "sb-1" || a.Address != "10.0.0.1" ||
		len(a.Ports) != 1 || a.Ports[0].Port != 8002 {
		t.Fatalf("allocate --json = %s (%v)", out, err)
	}
	_, err = runAdmin(t, newAllocateCmd, "eu", "--addr", addr, "--token", "admin")
	if !api.IsStatus(err, 503) || !strings.Contains(err.Error(), "no ready standby host in region eu") {
		t.Fatalf("allocate from an empty pool: %v, want 503", err)
	}
	out, err = runAdmin(t, newPoolGetCmd, "eu", "--json", "--addr", addr)
	if err != nil {
		t.Fatal(err)
	}
	var p api.Pool
	if err := json.Unmarshal([]byte(out), &p); err != nil || len(p.Allocations) != 1 || p.Active != 1 || p.Ready != 0 ||
		p.Policy.RampDown != "1m0s" {
		t.Fatalf("pool get --json = %s (%v)", out, err)
	}
	if _, err := runAdmin(t, newPoolDeallocateCmd, "eu", "sb-1", "--addr", addr, "--token", "admin"); err != nil {
		t.Fatal(err)
	}
	if out, err = runAdmin(t, newPoolGetCmd, "--addr", addr); err != nil || !strings.Contains(out, "eu") {
		t.Fatalf("pool get: %v\n%s", err, out)
	}
}

// putPolicy sends a policy document to PUT /v1/pools/{region} as is.
func putPolicy(t *testing.T, addr, region, doc string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, "http://"+addr+"/v1/pools/"+region, strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(api.TokenHeader, "admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestPoolPolicyAPIAcceptsYAMLAndNamesBadFields(t *testing.T) {
	s := singleCoordinator(t)
	cases := []struct {
		name string
		doc  string
		code int
		want string // in the body
	}{
		{"yaml", "standby_floor: 2\nmax_servers: 8\nramp_down: 10m\n", 200, `"ramp_down": "10m0s"`},
		{"json", `{"standby_floor": 3, "max_servers": 9}`, 200, `"max_servers": 9`},
		{"unknown key", "standby_floor: 2\nmax_server: 8\n", 400, "max_server"},
		{"floor above max", `{"standby_floor": 30, "max_servers": 9}`, 400, "standby_floor 30 is above max_servers 9"},
		{"bad threshold", "standby_floor: 2\nmax_servers: 8\ndynamic_standby: {enabled: true, thresholds: [{percent: 150, multiplier: 2}]}\n",
			400, "dynamic_standby.thresholds[0].percent 150 is outside (0, 100]"},
		{"duration not a string", "standby_floor: 2\nmax_servers: 8\nramp_down: 30\n", 400, `line 3: duration must be a string`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := putPolicy(t, s.HTTPAddr(), "eu", tc.doc)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("PUT = %d %s, want %d mentioning %q", code, body, tc.code, tc.want)
			}
		})
	}
}
