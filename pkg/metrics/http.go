package metrics

import (
	"net/http"
	"strconv"
	"time"
)

// HTTP instruments an HTTP handler with understudy_http_requests_total
// {route,code} and understudy_http_request_duration_seconds{route}. The
// route is the [http.ServeMux] pattern that matched (next must be or
// contain a ServeMux that sees the same *http.Request), so the label set
// stays bounded whatever paths clients send; unmatched requests count as
// route "none". Call it once per registry.
func (r *Registry) HTTP(next http.Handler) http.Handler {
	requests := r.Counter("http_requests_total", "HTTP requests served, by route pattern and status code.", "route", "code")
	latency := r.Histogram("http_request_duration_seconds",
		"Time to serve an HTTP request, by route pattern (blocking queries included).", nil, "route")
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, req)
		route := req.Pattern
		if route == "" {
			route = "none"
		}
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		requests.Inc(route, strconv.Itoa(code))
		latency.ObserveDuration(time.Since(start), route)
	})
}

// statusWriter records the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming handlers and reverse proxies flush through the
// wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives [http.ResponseController] the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
