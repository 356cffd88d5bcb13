package hostagent

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// newHTTPServer returns the agent's HTTP server: Prometheus metrics at
// /metrics and a liveness answer at /v1/health. Neither needs a token;
// operators restrict the port at the network level (docs/metrics.md).
func (a *Agent) newHTTPServer() *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metrics.reg.Handler())
	mux.HandleFunc("GET /v1/health", a.health)
	return &http.Server{
		Handler:           a.metrics.reg.HTTP(mux),
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.logger.With("component", "http").Handler(), slog.LevelWarn),
	}
}

// healthReply is the body of GET /v1/health.
type healthReply struct {
	Node   string            `json:"node"`
	Checks map[string]string `json:"checks"`
}

// health answers 200 while the agent runs, with its checks' statuses.
func (a *Agent) health(w http.ResponseWriter, _ *http.Request) {
	rep := healthReply{Node: a.cfg.NodeName, Checks: map[string]string{}}
	for name, st := range a.checks.Status() {
		rep.Checks[name] = string(st)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(rep)
}

// serveHTTP serves the HTTP listener until ctx is done, then shuts the
// server down and returns once it has stopped.
func (a *Agent) serveHTTP(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.http.Serve(a.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.logger.Error("http server stopped", "err", err)
		}
	}()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a.http.Shutdown(sctx)
	<-done
}
