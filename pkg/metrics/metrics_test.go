package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	b, err := io.ReadAll(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRegistrySeries(t *testing.T) {
	t.Parallel()
	r := New()
	c := r.Counter("things_total", "Things.", "kind")
	c.Inc("a")
	c.Add(2, "a")
	c.Init("b")
	g := r.Gauge("level", "Level.")
	g.Set(7)
	h := r.Histogram("wait_seconds", "Waits.", nil, "op")
	h.ObserveDuration(3*time.Millisecond, "read")
	h.Init("write")
	r.Histogram("idle_seconds", "Never observed.", nil)
	r.GaugeFunc("members", "Members.", []string{"state"}, func(emit Emit) {
		emit(3, "alive")
		emit(1, "dead")
	})
	r.CounterFunc("runs_total", "Runs.", nil, func(emit Emit) { emit(42) })
	r.Info("build_info", "Build.", map[string]string{"version": "1.2.3"})

	out := scrape(t, r.Handler())
	for _, want := range []string{
		`understudy_things_total{kind="a"} 3`,
		`understudy_things_total{kind="b"} 0`,
		`understudy_level 7`,
		`understudy_wait_seconds_count{op="read"} 1`,
		`understudy_wait_seconds_count{op="write"} 0`,
		`understudy_idle_seconds_count 0`,
		`understudy_members{state="alive"} 3`,
		`understudy_members{state="dead"} 1`,
		`understudy_runs_total 42`,
		`understudy_build_info{version="1.2.3"} 1`,
		"# TYPE go_goroutines gauge",
		"# TYPE process_cpu_seconds_total counter",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

func TestHTTPRoutes(t *testing.T) {
	t.Parallel()
	r := New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/hosts/{name}", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	})
	mux.HandleFunc("GET /v1/ok", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	h := r.HTTP(mux)
	for _, path := range []string{"/v1/hosts/a", "/v1/hosts/b", "/v1/ok", "/elsewhere"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	out := scrape(t, r.Handler())
	for _, want := range []string{
		`understudy_http_requests_total{code="404",route="GET /v1/hosts/{name}"} 2`,
		`understudy_http_requests_total{code="200",route="GET /v1/ok"} 1`,
		`understudy_http_requests_total{code="404",route="none"} 1`,
		`understudy_http_request_duration_seconds_count{route="GET /v1/ok"} 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %q\n%s", want, out)
		}
	}
}
