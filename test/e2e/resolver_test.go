//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/understudy/understudy/test/rig"
)

// unboundConfig writes an unbound configuration serving on 127.0.0.1:port
// that sends the zone understudy. to the coordinators, as a stub zone
// (authoritative servers, queries without recursion) or a forward zone.
func unboundConfig(dir string, port int, mode string, coordinators []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `server:
  interface: 127.0.0.1
  port: %d
  do-daemonize: no
  chroot: ""
  username: ""
  directory: %q
  pidfile: %q
  use-syslog: no
  logfile: ""
  verbosity: 1
  num-threads: 1
  so-reuseport: no
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  # Understudy's zone is not signed: no validator, no trust anchor.
  module-config: "iterator"
  domain-insecure: "understudy."
  # Respect the coordinators' TTLs as they are.
  cache-min-ttl: 0
  serve-expired: no
  prefetch: no
remote-control:
  control-enable: no
`, port, dir, filepath.Join(dir, "unbound.pid"))
	addrKey := "stub-addr"
	if mode == "forward" {
		addrKey = "forward-addr"
	}
	fmt.Fprintf(&b, "%s-zone:\n  name: \"understudy.\"\n", mode)
	for _, c := range coordinators {
		host, port, _ := net.SplitHostPort(c)
		fmt.Fprintf(&b, "  %s: %s@%s\n", addrKey, host, port)
	}
	return b.String()
}

// freePort returns a port that was free on 127.0.0.1 for both UDP and TCP a
// moment ago (unbound cannot report a port it picked itself).
func freePort(t *testing.T) int {
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
	t.Fatal("no free port for both UDP and TCP")
	return 0
}

// startUnbound starts unbound in the foreground in front of the
// coordinators and returns its address once it answers for the zone.
func startUnbound(t *testing.T, mode string, coordinators []string) string {
	t.Helper()
	path, err := exec.LookPath("unbound")
	if err != nil {
		for _, p := range []string{"/usr/sbin/unbound", "/usr/local/sbin/unbound"} {
			if _, err2 := exec.LookPath(p); err2 == nil {
				path, err = p, nil
				break
			}
		}
	}
	if err != nil {
		t.Skip("unbound is not installed (apt-get install unbound)")
	}
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeFile(t, dir, "unbound.conf", unboundConfig(dir, port, mode, coordinators))
	rig.StartProc(t, "unbound", 0, path, "-d", "-c", cfg)
	return fmt.Sprintf("127.0.0.1:%d", port)
}

func TestUnboundFollowsFailover(t *testing.T) {
	for _, mode := range []string{"stub", "forward"} {
		t.Run(mode, func(t *testing.T) {
			const ttl = 2 * time.Second
			c := rig.Start(t, rig.Spec{Bins: bins, Profile: "fast", Extra: fmt.Sprintf("dns: {ttl: %s, negative_ttl: %s}\n", ttl, ttl)})
			a, b := startPair(t, c, loginService, nil)
			resolver := startUnbound(t, mode, c.DNSAddrs())
			waitAnswer(t, []string{resolver}, loginName, []string{a.IP, b.IP}, 20*time.Second)

			// unbound keeps the coordinators' TTL: never more than dns.ttl left.
			m := new(mdns.Msg)
			m.SetQuestion(loginName, mdns.TypeA)
			r, _, err := (&mdns.Client{Timeout: 2 * time.Second}).Exchange(m, resolver)
			if err != nil || len(r.Answer) == 0 {
				t.Fatalf("query through unbound: %v %v", err, r)
			}
			for _, rr := range r.Answer {
				if time.Duration(rr.Header().Ttl)*time.Second > ttl {
					t.Fatalf("unbound answered with TTL %ds, more than dns.ttl %v: %v", rr.Header().Ttl, ttl, rr)
				}
			}
			// The answer is now in unbound's cache; kill the primary host.
			begin := time.Now()
			a.Kill()
			direct := waitAnswer(t, c.DNSAddrs(), loginName, []string{b.IP}, 30*time.Second)
			waitAnswer(t, []string{resolver}, loginName, []string{b.IP}, 30*time.Second)
			took := time.Since(begin)
			t.Logf("through unbound (%s zone, TTL %v): the answer changed to the standby %v after SIGKILL of the primary (coordinators: %v)",
				mode, ttl, took.Round(time.Millisecond), direct.Round(time.Millisecond))
			// Unbound never serves the dead host again once it expired.
			p := startProbe(t, resolver, loginName, 50*time.Millisecond, 2*ttl)
			<-p.done
			n, fails, answers := p.results()
			if len(fails) > 0 || len(answers) != 1 || answers[0].answer != b.IP {
				t.Fatalf("after the flip, %d queries through unbound: failures %v, answers %v", n, fails, answers)
			}
			// Names outside the service catalogue get NXDOMAIN through unbound.
			if _, rc, err := dnsA(resolver, "nosuch.service.understudy."); err != nil || rc != 3 {
				t.Fatalf("nosuch.service.understudy. through unbound: rcode %d, %v; want NXDOMAIN", rc, err)
			}
		})
	}
}
