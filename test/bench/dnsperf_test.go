//go:build bench

package bench

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/understudy/understudy/test/rig"
)

// TestDNSPerf runs dnsperf against one coordinator and against a reference
// server (CoreDNS serving the same records from a zone file, or unbound
// serving them as local-data when no CoreDNS binary is at hand), on the
// same machine in the same run, with the same query mix: an A and an SRV
// query for a service with two instances and an A query for an unknown
// name (NXDOMAIN), in equal parts.
//
// Two passes of 10 s per server: "saturated" (dnsperf's defaults: one
// client, up to 100 queries outstanding) gives the throughput and the mean
// latency under full load; "paced" sends 5,000 queries per second with
// per-query output (-v), from which the percentiles of the latency come.
func TestDNSPerf(t *testing.T) {
	needDNSBench(t)
	dnsperf, err := exec.LookPath("dnsperf")
	if err != nil {
		t.Skip("dnsperf is not installed (apt-get install dnsperf)")
	}
	c := startDNSCluster(t, 1, "fast")
	a := startPlainHost(c, "host-a", "active", "login")
	b := startPlainHost(c, "host-b", "standby", "login")
	coord := c.Coords[0].DNS
	poll(t, 60*time.Second, "login to list both hosts", func() bool {
		return rig.AllAnswer([]string{coord}, "login.service.understudy.", a.IP+","+b.IP)
	})
	records := zoneRecords(t, coord)
	ref, refName := startReference(t, records)

	dir := t.TempDir()
	queries := filepath.Join(dir, "queries.txt")
	if err := os.WriteFile(queries, []byte("login.service.understudy A\nlogin.service.understudy SRV\nnosuch.service.understudy A\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	servers := []struct{ name, addr string }{{"understudy-coordinator", coord}, {refName, ref}}
	tb := &table{
		title: "DNS: dnsperf, 10 s per pass, A + SRV + NXDOMAIN in equal parts, one coordinator vs " + refName,
		header: []string{"server", "saturated QPS", "saturated mean latency ms", "lost",
			"paced 5,000 QPS: mean ms", "p50 ms", "p99 ms", "max ms", "rcodes (paced)"},
	}
	for _, s := range servers {
		sat := runDNSPerf(t, dnsperf, s.addr, queries, false, "-l", "10")
		paced := runDNSPerf(t, dnsperf, s.addr, queries, true, "-l", "10", "-Q", "5000")
		l := summarize(paced.latencies)
		tb.add(s.name, fmt.Sprintf("%.0f", sat.qps), ms(sat.mean), fmt.Sprintf("%d", sat.lost),
			ms(l.Mean), ms(l.P50), ms(l.P99), ms(l.Max), paced.rcodes)
	}
	tb.note("Same machine, same run; dnsperf %s; load average at the end: %s.", dnsperfVersion(dnsperf), loadAverage())
	tb.note("Targets: the coordinator's saturated QPS at least the reference's; p99 under 5 ms.")
	tb.print()
}

// zoneRecords asks the coordinator for the records the benchmark queries
// (and the zone's SOA and NS with their addresses), in zone-file form.
func zoneRecords(t *testing.T, server string) []string {
	t.Helper()
	var out []string
	seen := map[string]bool{}
	add := func(rrs []mdns.RR) {
		for _, rr := range rrs {
			if rr.Header().Rrtype == mdns.TypeOPT {
				continue
			}
			s := rr.String()
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	for _, q := range []struct {
		name string
		typ  uint16
	}{
		{"understudy.", mdns.TypeSOA}, {"understudy.", mdns.TypeNS},
		{"login.service.understudy.", mdns.TypeA}, {"login.service.understudy.", mdns.TypeSRV},
	} {
		m := new(mdns.Msg)
		m.SetQuestion(q.name, q.typ)
		r, _, err := (&mdns.Client{Timeout: time.Second}).Exchange(m, server)
		if err != nil || r.Rcode != mdns.RcodeSuccess || len(r.Answer) == 0 {
			t.Fatalf("%s %s on the coordinator: %v %v", q.name, mdns.TypeToString[q.typ], err, r)
		}
		add(r.Answer)
		add(r.Extra)
	}
	return out
}

// startReference starts CoreDNS (from GOPATH/bin, where make bench-dns
// installs it) on a zone file holding records, or unbound with them as
// local-data when there is no CoreDNS; it returns its address and name.
func startReference(t *testing.T, records []string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	port := freeDNSPort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		t.Fatal(err)
	}
	coredns := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "coredns")
	var name string
	if _, err := os.Stat(coredns); err == nil {
		zone := filepath.Join(dir, "db.understudy")
		if err := os.WriteFile(zone, []byte(strings.Join(records, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		corefile := filepath.Join(dir, "Corefile")
		conf := fmt.Sprintf("understudy.:%d {\n  bind 127.0.0.1\n  file %s\n}\n", port, zone)
		if err := os.WriteFile(corefile, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		out, _ := exec.Command(coredns, "-version").Output()
		name = strings.Fields(string(out) + " CoreDNS")[0]
		rig.StartProc(t, "coredns", 0, coredns, "-conf", corefile)
	} else {
		unbound, err := exec.LookPath("unbound")
		if err != nil {
			t.Skip("neither CoreDNS (go install github.com/coredns/coredns@v1.11.3) nor unbound is installed")
		}
		var b strings.Builder
		fmt.Fprintf(&b, "server:\n  interface: 127.0.0.1\n  port: %d\n  do-daemonize: no\n  chroot: \"\"\n  username: \"\"\n  directory: %q\n  pidfile: \"\"\n  use-syslog: no\n  num-threads: 1\n  access-control: 127.0.0.0/8 allow\n  module-config: iterator\n  local-zone: \"understudy.\" static\n", port, dir)
		for _, r := range records {
			fmt.Fprintf(&b, "  local-data: %q\n", strings.ReplaceAll(r, "\t", " "))
		}
		b.WriteString("remote-control:\n  control-enable: no\n")
		conf := filepath.Join(dir, "unbound.conf")
		if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		name = "unbound (local-data)"
		rig.StartProc(t, "unbound", 0, unbound, "-d", "-c", conf)
	}
	poll(t, 20*time.Second, name+" to answer", func() bool {
		_, err := rig.Answer(addr, "login.service.understudy.")
		return err == nil
	})
	return addr, name
}

// freeDNSPort returns a port that was free on 127.0.0.1 for both UDP and
// TCP a moment ago, for servers that cannot report a port they picked.
func freeDNSPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no port free for both UDP and TCP")
	return 0
}

// perfRun is what one dnsperf run reported.
type perfRun struct {
	qps       float64
	mean      time.Duration
	lost      int
	rcodes    string
	latencies []time.Duration // per query, with -v only
}

var (
	reQPS    = regexp.MustCompile(`Queries per second:\s+([\d.]+)`)
	reMean   = regexp.MustCompile(`Average Latency \(s\):\s+([\d.]+)`)
	reLost   = regexp.MustCompile(`Queries lost:\s+(\d+)`)
	reRcodes = regexp.MustCompile(`Response codes:\s+(.*)`)
	reQuery  = regexp.MustCompile(`^> (\S+) \S+ \S+ ([\d.]+)$`)
)

// runDNSPerf runs dnsperf against addr and parses its report.
func runDNSPerf(t *testing.T, dnsperf, addr, queries string, verbose bool, args ...string) perfRun {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	argv := append([]string{"-s", host, "-p", port, "-d", queries}, args...)
	if verbose {
		argv = append(argv, "-v")
	}
	cmd := exec.Command(dnsperf, argv...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var r perfRun
	var report strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if m := reQuery.FindStringSubmatch(line); m != nil {
			if f, err := strconv.ParseFloat(m[2], 64); err == nil {
				r.latencies = append(r.latencies, time.Duration(f*float64(time.Second)))
			}
			continue
		}
		report.WriteString(line + "\n")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dnsperf %v: %v\n%s%s", argv, err, report.String(), stderr.String())
	}
	out := report.String()
	m := reQPS.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("dnsperf %v printed no rate:\n%s", argv, out)
	}
	r.qps, _ = strconv.ParseFloat(m[1], 64)
	if m := reMean.FindStringSubmatch(out); m != nil {
		f, _ := strconv.ParseFloat(m[1], 64)
		r.mean = time.Duration(f * float64(time.Second))
	}
	if m := reLost.FindStringSubmatch(out); m != nil {
		r.lost, _ = strconv.Atoi(m[1])
	}
	if m := reRcodes.FindStringSubmatch(out); m != nil {
		r.rcodes = strings.TrimSpace(m[1])
	}
	return r
}

// dnsperfVersion returns dnsperf's version line.
func dnsperfVersion(dnsperf string) string {
	out, _ := exec.Command(dnsperf, "-h").CombinedOutput()
	for line := range strings.Lines(string(out)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Version "); ok {
			return v
		}
	}
	return "(unknown version)"
}
