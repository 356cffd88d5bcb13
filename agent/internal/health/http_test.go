package health

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// probeTimeout bounds probes that should answer at once: generous, so a
// loaded machine does not turn an answer into a timeout.
const probeTimeout = 10 * time.Second

func probeOnce(t *testing.T, p probeFunc, timeout time.Duration) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	return p(ctx)
}

func TestHTTPProbe(t *testing.T) {
	t.Parallel()
	var mode atomic.Value // string
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		switch m := mode.Load().(string); m {
		case "200":
			w.Write([]byte("grid online\n"))
		case "204":
			w.WriteHeader(http.StatusNoContent)
		case "500":
			http.Error(w, "database down", http.StatusInternalServerError)
		case "429":
			http.Error(w, "too many logins", http.StatusTooManyRequests)
		case "404":
			http.NotFound(w, r)
		case "slow":
			// Answer only when the client gives up.
			<-r.Context().Done()
		case "slow body":
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		case "redirect once":
			if r.URL.Path == "/ok" {
				w.Write([]byte("ok"))
				return
			}
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "redirect loop":
			http.Redirect(w, r, "/again", http.StatusFound)
		case "big body":
			chunk := []byte(strings.Repeat("x", 64<<10))
			for range 160 { // 10 MiB
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		default:
			t.Errorf("unknown mode %q", m)
		}
	}))
	t.Cleanup(srv.Close)
	p := newHTTPProbe(srv.URL + "/health")

	// The cases run in order against one server that switches between
	// answers, as a real service would.
	cases := []struct {
		mode    string
		timeout time.Duration
		want    Status
		output  string // substring of the output
		maxReqs int64  // requests the probe may make; 0 means 1
	}{
		{mode: "200", want: Passing, output: "200 OK\ngrid online"},
		{mode: "500", want: Critical, output: "500 Internal Server Error\ndatabase down"},
		{mode: "429", want: Warning, output: "429 Too Many Requests\ntoo many logins"},
		{mode: "200", want: Passing, output: "200 OK"},
		{mode: "slow", timeout: 200 * time.Millisecond, want: Critical, output: "context deadline exceeded"},
		{mode: "204", want: Passing, output: "204 No Content"},
		{mode: "slow body", timeout: 200 * time.Millisecond, want: Critical, output: "200 OK: reading body"},
		{mode: "404", want: Critical, output: "404 Not Found"},
		{mode: "redirect once", want: Passing, output: "200 OK\nok", maxReqs: 2},
		{mode: "redirect loop", want: Critical, output: "302 Found", maxReqs: maxRedirects + 1},
		{mode: "big body", want: Passing, output: "200 OK\nxxxx"},
	}
	for i, tc := range cases {
		mode.Store(tc.mode)
		before := requests.Load()
		timeout := tc.timeout
		if timeout == 0 {
			timeout = probeTimeout
		}
		res := probeOnce(t, p, timeout)
		if res.status != tc.want || !strings.Contains(res.output, tc.output) {
			t.Errorf("%d %s: got %s %q, want %s with %q", i, tc.mode, res.status, res.output, tc.want, tc.output)
		}
		maxReqs := max(tc.maxReqs, 1)
		if n := requests.Load() - before; n > maxReqs {
			t.Errorf("%d %s: %d requests, want at most %d", i, tc.mode, n, maxReqs)
		}
		if len(res.output) > maxOutput+200 {
			t.Errorf("%d %s: output of %d bytes, want at most about %d", i, tc.mode, len(res.output), maxOutput)
		}
	}
	if n := requests.Load(); n < int64(len(cases)) {
		t.Errorf("server saw %d requests for %d probes", n, len(cases))
	}

	srv.Close()
	if res := probeOnce(t, p, probeTimeout); res.status != Critical || !strings.Contains(res.output, "connection refused") {
		t.Errorf("closed server: got %s %q, want critical, connection refused", res.status, res.output)
	}
}

// TestHTTPProbeIgnoresProxy checks that a proxy set in the agent's
// environment does not carry the check: the check must reach the service.
func TestHTTPProbeIgnoresProxy(t *testing.T) {
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		http.Error(w, "proxy", http.StatusBadGateway)
	}))
	t.Cleanup(proxy.Close)
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)

	// A name that never resolves (RFC 2606): through the proxy the probe
	// would get the proxy's answer; without it, a resolution error. Either
	// way the check is critical; what matters is who saw the request. (A
	// loopback target would not tell: net/http never proxies loopback.)
	res := probeOnce(t, newHTTPProbe("http://health-check.invalid/"), 2*time.Second)
	if res.status != Critical {
		t.Errorf("got %s %q, want critical", res.status, res.output)
	}
	if n := proxied.Load(); n != 0 {
		t.Errorf("proxy saw %d requests, want 0", n)
	}
}
