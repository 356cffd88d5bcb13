//go:build browser

package ui

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/understudy/understudy/agent/hostagent"
	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/test/gridlogin"
	"github.com/understudy/understudy/test/harness"
)

var screenshot = flag.String("screenshot", "", "save a PNG of the status page to this file")

// browserPath finds Chromium.
func browserPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: install Debian's chromium package or set CHROMIUM")
	return ""
}

// newBrowser starts headless Chromium with a fresh profile and no network
// use of its own, and returns a tab's context.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browserPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// loginHost runs the stand-in login service under an agent on its own
// loopback address.
func startLoginHost(t *testing.T, c *harness.Cluster, name, role string) *harness.Agent {
	t.Helper()
	ip := harness.NextIP()
	dir := t.TempDir()
	if err := gridlogin.AddAccount(dir, "Test", "User", "pw"); err != nil {
		t.Fatal(err)
	}
	ctl := gridlogin.NewController(gridlogin.Config{Grid: "Testgrid", Instance: name, DataDir: dir,
		Addr: net.JoinHostPort(ip, "8002")})
	chk := &hostagent.CheckConfig{HTTP: fmt.Sprintf("http://%s:8002/get_grid_info", ip), Interval: 200 * time.Millisecond,
		Timeout: 100 * time.Millisecond, FailuresBeforeCritical: 2, SuccessesBeforePassing: 1}
	cfg := c.AgentConfig(name, role, hostagent.Service{Name: "login", Grid: "testgrid", Port: 8002, Check: chk, Standby: "hot"})
	cfg.BindAddr = ip
	return c.StartAgent(cfg, hostagent.WithController("login", ctl))
}

// pageRow is a table row as the page shows it.
type pageRow struct {
	Key    string            `json:"key"`
	Fields map[string]string `json:"fields"`
}

// readTable returns the keyed rows of a table on the page: each cell's
// text by its data-field.
func readTable(ctx context.Context, id string) ([]pageRow, error) {
	var rows []pageRow
	js := fmt.Sprintf(`[...document.querySelectorAll('#%s tbody tr[data-key]')].map(tr => ({
		key: tr.dataset.key,
		fields: Object.fromEntries([...tr.querySelectorAll('[data-field]')].map(td => [td.dataset.field, td.textContent.trim()]))
	}))`, id)
	err := chromedp.Run(ctx, chromedp.Evaluate(js, &rows))
	return rows, err
}

// eventually polls cond until it returns "" (agreement) or d passes, then
// fails with cond's last explanation.
func eventually(t *testing.T, d time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %s", d, what, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hostsAgree compares the page's hosts table with the API's hosts.
func hostsAgree(rows []pageRow, hosts []api.Host) string {
	if len(rows) != len(hosts) {
		return fmt.Sprintf("page shows %d hosts, API has %d", len(rows), len(hosts))
	}
	for _, h := range hosts {
		i := slices.IndexFunc(rows, func(r pageRow) bool { return r.Key == h.Name })
		if i < 0 {
			return "page lacks host " + h.Name
		}
		f := rows[i].Fields
		if f["role"] != h.Role || !strings.HasPrefix(f["status"], h.Status) || f["address"] != h.Address ||
			f["region"] != h.Region {
			return fmt.Sprintf("host %s: page shows %v, API has %+v", h.Name, f, h)
		}
	}
	return ""
}

// servicesAgree compares the page's services table with the API's.
func servicesAgree(rows []pageRow, svcs []api.Service) string {
	if len(rows) != len(svcs) {
		return fmt.Sprintf("page shows %d services, API has %d", len(rows), len(svcs))
	}
	for _, s := range svcs {
		i := slices.IndexFunc(rows, func(r pageRow) bool { return r.Key == s.Name })
		if i < 0 {
			return "page lacks service " + s.Name
		}
		f := rows[i].Fields
		var health string
		var standbys []string
		for _, in := range s.Instances {
			if in.Host == s.Primary {
				health = in.Health
			} else {
				standbys = append(standbys, in.Host+in.Health)
			}
		}
		if f["primary"] != s.Primary || f["epoch"] != fmt.Sprint(s.Epoch) || !strings.HasPrefix(f["health"], health) ||
			strings.ReplaceAll(f["standbys"], " ", "") != strings.Join(standbys, "") {
			return fmt.Sprintf("service %s: page shows %v, API has %+v", s.Name, f, s)
		}
	}
	return ""
}

func TestStatusPage(t *testing.T) {
	ctx := t.Context()
	c := harness.New(t, 3)
	c.Leader(15 * time.Second)
	startLoginHost(t, c, "host-a", "active")
	startLoginHost(t, c, "host-b", "standby")
	co := c.Coordinators[0]
	read := co.Client("")
	admin := co.Client(c.AdminToken)

	eventually(t, 20*time.Second, "both instances of login passing", func() string {
		svc, err := read.Service(ctx, "login")
		if err != nil {
			return err.Error()
		}
		if svc.Primary != "host-a" || len(svc.Instances) != 2 {
			return fmt.Sprintf("service %+v", svc)
		}
		for _, in := range svc.Instances {
			if in.Health != "passing" {
				return fmt.Sprintf("service %+v", svc)
			}
		}
		return ""
	})
	// A standby pool and dataset reports fill the remaining sections.
	if _, err := admin.SetPoolPolicy(ctx, "default", json.RawMessage(
		`{"standby_floor": 1, "max_servers": 4, "dynamic_standby": {"enabled": true, "thresholds": [{"percent": 50, "multiplier": 2}]}}`)); err != nil {
		t.Fatalf("set pool policy: %v", err)
	}
	now := time.Now()
	for _, st := range []api.DatasetStatus{
		{Host: "host-a", Dataset: "login-db", Service: "login", Class: "transactional", Replica: "source",
			LastSnapshot: now.Add(-40 * time.Second).UnixMilli(), LastArchive: now.Add(-3 * time.Hour).UnixMilli(),
			LastDrill: now.Add(-20 * time.Hour).UnixMilli(), DrillMillis: 1800, DrillOK: true, ReportedAt: now.UnixMilli()},
		{Host: "host-b", Dataset: "login-db", Service: "login", Class: "transactional", Replica: "mirror",
			LastSnapshot: now.Add(-40 * time.Second).UnixMilli(), LagMillis: 900, ReportedAt: now.UnixMilli()},
	} {
		if err := co.Client(c.AgentToken).ReportDataset(ctx, st); err != nil {
			t.Fatalf("report dataset: %v", err)
		}
	}

	tab := newBrowser(t)
	// The coordinator's root redirects to the page.
	if err := chromedp.Run(tab, chromedp.Navigate("http://"+co.HTTPAddr()+"/"),
		chromedp.WaitVisible(`#hosts-table tbody tr[data-key]`, chromedp.ByQuery)); err != nil {
		t.Fatalf("load the status page: %v", err)
	}
	var loc string
	if err := chromedp.Run(tab, chromedp.Location(&loc)); err != nil || !strings.HasSuffix(loc, "/ui/") {
		t.Errorf("/ led to %q (%v), want the page at /ui/", loc, err)
	}

	eventually(t, 20*time.Second, "the hosts and services on the page to match the API", func() string {
		hosts, err := read.Hosts(ctx)
		if err != nil {
			return err.Error()
		}
		rows, err := readTable(tab, "hosts-table")
		if err != nil {
			return err.Error()
		}
		if why := hostsAgree(rows, hosts); why != "" {
			return why
		}
		svcs, err := read.Services(ctx)
		if err != nil {
			return err.Error()
		}
		if rows, err = readTable(tab, "services-table"); err != nil {
			return err.Error()
		}
		return servicesAgree(rows, svcs)
	})
	eventually(t, 10*time.Second, "the cluster, datasets and pool sections", func() string {
		peers, err := readTable(tab, "peers-table")
		if err != nil {
			return err.Error()
		}
		leaders := 0
		for _, p := range peers {
			if p.Fields["role"] == "leader" {
				leaders++
			}
		}
		if len(peers) != 3 || leaders != 1 {
			return fmt.Sprintf("peers table %v, want 3 peers, one leader", peers)
		}
		ds, err := readTable(tab, "datasets-table")
		if err != nil || len(ds) != 2 {
			return fmt.Sprintf("datasets table %v (%v), want 2 rows", ds, err)
		}
		var polylines int
		if err := chromedp.Run(tab, chromedp.Evaluate(`document.querySelectorAll('#pools-list .pool svg polyline').length`, &polylines)); err != nil {
			return err.Error()
		}
		if polylines != 3 {
			return fmt.Sprintf("pool chart has %d lines, want 3", polylines)
		}
		return ""
	})

	// A planned switchover through the API shows on the page.
	p, err := admin.Failover(ctx, "login", "host-b")
	if err != nil {
		t.Fatalf("planned switchover: %v", err)
	}
	eventually(t, 20*time.Second, "the page to show host-b as primary and the promotion", func() string {
		rows, err := readTable(tab, "services-table")
		if err != nil {
			return err.Error()
		}
		if len(rows) != 1 || rows[0].Fields["primary"] != "host-b" || rows[0].Fields["epoch"] != fmt.Sprint(p.Epoch) {
			return fmt.Sprintf("services table %v", rows)
		}
		events, err := readTable(tab, "events-table")
		if err != nil {
			return err.Error()
		}
		if len(events) == 0 || events[0].Fields["to"] != "host-b" || events[0].Fields["kind"] != "planned" {
			return fmt.Sprintf("events table %v", events)
		}
		hostRows, err := readTable(tab, "hosts-table")
		if err != nil {
			return err.Error()
		}
		for _, r := range hostRows {
			if want := map[string]string{"host-a": "", "host-b": "login"}[r.Key]; r.Fields["primary"] != want {
				return fmt.Sprintf("host %s primary for %q, want %q", r.Key, r.Fields["primary"], want)
			}
		}
		return ""
	})
	// And the services still match the API once things settle.
	eventually(t, 20*time.Second, "the services on the page to match the API after the switchover", func() string {
		svcs, err := read.Services(ctx)
		if err != nil {
			return err.Error()
		}
		rows, err := readTable(tab, "services-table")
		if err != nil {
			return err.Error()
		}
		return servicesAgree(rows, svcs)
	})

	// The pool grows: a higher floor raises the target and a new standby
	// host joins; the chart follows.
	if _, err := admin.SetPoolPolicy(ctx, "default", json.RawMessage(`{"standby_floor": 2, "max_servers": 4}`)); err != nil {
		t.Fatalf("raise the pool's floor: %v", err)
	}
	c.StartAgent(c.AgentConfig("host-c", "standby"))
	eventually(t, 30*time.Second, "the pool figures to show 2 ready standbys and a target of 2", func() string {
		var got map[string]string
		err := chromedp.Run(tab, chromedp.Evaluate(`Object.fromEntries([...document.querySelectorAll('#pools-list .pool [data-field]')].map(e => [e.dataset.field, e.textContent]))`, &got))
		if err != nil {
			return err.Error()
		}
		if got["ready"] != "2" || got["target"] != "2" {
			return fmt.Sprintf("pool figures %v", got)
		}
		return ""
	})
	// Two more refreshes draw the new level as a line.
	var seen int
	if err := chromedp.Run(tab, chromedp.Evaluate(`Number(document.body.dataset.refreshes)`, &seen)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "two more refreshes", func() string {
		var n int
		if err := chromedp.Run(tab, chromedp.Evaluate(`Number(document.body.dataset.refreshes)`, &n)); err != nil {
			return err.Error()
		}
		if n < seen+2 {
			return fmt.Sprintf("%d refreshes", n)
		}
		return ""
	})

	if *screenshot != "" {
		var png []byte
		if err := chromedp.Run(tab, chromedp.FullScreenshot(&png, 100)); err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(*screenshot, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot saved to %s (%d bytes)", *screenshot, len(png))
	}
}
