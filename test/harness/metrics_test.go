package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/agent/hostagent"
	"github.com/understudy/understudy/pkg/api"
)

// metricRow matches a series row of docs/metrics.md: name and type.
var metricRow = regexp.MustCompile("^\\|\\s*`(understudy_[a-z0-9_]+)`\\s*\\|\\s*([a-z]+)\\s*\\|")

// documentedMetrics returns the series listed in each "## " section of
// docs/metrics.md, name → type.
func documentedMetrics(t *testing.T) map[string]map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if h, ok := strings.CutPrefix(sc.Text(), "## "); ok {
			section = strings.TrimSpace(h)
			continue
		}
		if m := metricRow.FindStringSubmatch(sc.Text()); m != nil {
			if out[section] == nil {
				out[section] = map[string]string{}
			}
			if _, dup := out[section][m[1]]; dup {
				t.Errorf("docs/metrics.md (%s) lists %s twice", section, m[1])
			}
			out[section][m[1]] = m[2]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// scrape fetches addr's /metrics and returns the understudy_ families it
// declares, name → type.
func scrape(t *testing.T, addr string) map[string]string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/metrics: %s", addr, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "#" && f[1] == "TYPE" && strings.HasPrefix(f[2], "understudy_") {
			out[f[2]] = f[3]
		}
	}
	return out
}

// sample returns the value of one series (name and labels exactly as
// exported) from addr's /metrics, or -1 when it is absent.
func sample(t *testing.T, addr, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return -1
}

// TestDocumentedMetrics runs a coordinator with a primary and a standby
// agent through registration, health checks, DNS queries and a planned
// switchover, then checks that each daemon exports exactly the series
// docs/metrics.md lists for it, with the documented types. It also checks
// the agents' health endpoint.
func TestDocumentedMetrics(t *testing.T) {
	doc := documentedMetrics(t)
	for _, s := range []string{"Both daemons", "Coordinator", "Agent"} {
		if len(doc[s]) == 0 {
			t.Fatalf("docs/metrics.md has no series in section %q", s)
		}
	}
	c := New(t, 1)
	c.Leader(10 * time.Second)
	a := newLoginHost(t, c, "host-a", "active", "cold")
	b := newLoginHost(t, c, "host-b", "standby", "cold")
	// The login service's data: snapshotted on host-a, mirrored to host-b.
	certs := writeMirrorCerts(t, t.TempDir(), "host-a", "host-b")
	src := t.TempDir()
	writeFiles(t, src, mrand.New(mrand.NewPCG(1, 2)), 4)
	for _, h := range []*loginHost{a, b} {
		h.cfg.TLS = certs[h.name]
		h.cfg.Services[0].Datasets = []string{"login-db"}
	}
	a.cfg.Datasets = []hostagent.Dataset{{Name: "login-db", Path: src, Class: "transactional"}}
	b.cfg.Datasets = []hostagent.Dataset{{Name: "login-db", Path: filepath.Join(t.TempDir(), "warm"), Class: "transactional"}}
	agentA, agentB := a.start(c), b.start(c)
	co := c.Coordinators[0]
	waitPrimaryServing(t, co, a, b)
	// The dataset jobs feed the agents' series.
	Eventually(t, 30*time.Second, "a snapshot mirrored to host-b in host-a's metrics", func() bool {
		if sample(t, agentA.HTTPAddr(), `understudy_mirror_transfers_total{dataset="login-db",result="ok"}`) >= 1 {
			return true
		}
		agentA.SnapshotNow(t.Context(), "login-db")
		return false
	})
	if n := sample(t, agentA.HTTPAddr(), `understudy_snapshots_total{dataset="login-db",result="ok"}`); n < 1 {
		t.Errorf("host-a counted %v snapshots", n)
	}
	if n := sample(t, agentA.HTTPAddr(), `understudy_mirror_sent_bytes_total{dataset="login-db"}`); n <= 0 {
		t.Errorf("host-a counted %v mirrored bytes", n)
	}

	if _, err := co.Client(c.AdminToken).Failover(t.Context(), "login", "host-b"); err != nil {
		t.Fatalf("planned switchover: %v", err)
	}
	Eventually(t, 15*time.Second, "DNS to answer the new primary", func() bool {
		got := dnsLogin(t, co.DNSAddr())
		return len(got) == 1 && got[0] == b.ip
	})

	// A standby pool and dataset reports, so that their series exist.
	if _, err := co.Client(c.AdminToken).SetPoolPolicy(t.Context(), "default",
		json.RawMessage(`{"standby_floor": 1, "max_servers": 4}`)); err != nil {
		t.Fatalf("set pool policy: %v", err)
	}
	now := time.Now().UnixMilli()
	for _, st := range []api.DatasetStatus{
		{Host: "host-b", Dataset: "login-db", Replica: "source", LastSnapshot: now, ReportedAt: now},
		{Host: "host-a", Dataset: "login-db", Replica: "mirror", LastSnapshot: now, LagMillis: 800, ReportedAt: now},
	} {
		if err := co.Client(c.AgentToken).ReportDataset(t.Context(), st); err != nil {
			t.Fatalf("report dataset: %v", err)
		}
	}
	for _, ag := range []*Agent{agentA, agentB} {
		resp, err := http.Get("http://" + ag.HTTPAddr() + "/v1/health")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"node":"`+ag.Name()+`"`) {
			t.Errorf("GET %s/v1/health = %s %s", ag.Name(), resp.Status, body)
		}
	}

	check := func(t *testing.T, got map[string]string, want map[string]string) {
		for _, name := range slices.Sorted(maps.Keys(want)) {
			switch typ, ok := got[name]; {
			case !ok:
				t.Errorf("%s is documented but not exported", name)
			case typ != want[name]:
				t.Errorf("%s is a %s, documented as a %s", name, typ, want[name])
			}
		}
		for _, name := range slices.Sorted(maps.Keys(got)) {
			if _, ok := want[name]; !ok {
				t.Errorf("%s (%s) is exported but not in docs/metrics.md", name, got[name])
			}
		}
	}
	for _, tc := range []struct {
		daemon string
		addr   string
	}{
		{"Coordinator", co.HTTPAddr()},
		{"Agent", agentA.HTTPAddr()},
		{"Agent", agentB.HTTPAddr()},
	} {
		t.Run(fmt.Sprintf("%s %s", tc.daemon, tc.addr), func(t *testing.T) {
			want := maps.Clone(doc["Both daemons"])
			maps.Copy(want, doc[tc.daemon])
			check(t, scrape(t, tc.addr), want)
		})
	}
}
