package login

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ErrFrontRun is returned by [Front.Run] on a front that has already been
// run or closed: its listener is gone.
var ErrFrontRun = errors.New("login front already run or closed")

// shutdownTimeout bounds how long Run waits for requests in flight after
// its context is done.
const shutdownTimeout = 5 * time.Second

// Front serves a [Handler] over HTTP on its own listener.
type Front struct {
	h   *Handler
	log *slog.Logger
	ln  net.Listener
	srv *http.Server

	used      atomic.Bool // set by the first Run or Close
	closeOnce sync.Once
}

// New validates cfg, binds the listener (so [Front.Addr] is known at once)
// and returns a front that routes from view once [Front.Run] is called.
// Call Run or Close to release the listener.
func New(cfg Config, view View) (*Front, error) {
	if err := errors.Join(cfg.Validate(), cfg.validateListen()); err != nil {
		return nil, err
	}
	h, err := NewHandler(cfg, view)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("login listen %s: %w", cfg.Addr, err)
	}
	c := h.cfg
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// A body of MaxBody bytes from a slow viewer, then the attempts,
		// then the answer back.
		ReadTimeout:    30 * time.Second,
		WriteTimeout:   c.TotalTimeout + 30*time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(h.log.Handler(), slog.LevelDebug),
	}
	return &Front{h: h, log: h.log, ln: ln, srv: srv}, nil
}

// Addr returns the bound address, IP:PORT.
func (f *Front) Addr() string { return f.ln.Addr().String() }

// Handler returns the handler the front serves with.
func (f *Front) Handler() *Handler { return f.h }

// Route returns where a login for grid would go first; see
// [Handler.Route].
func (f *Front) Route(grid string) (Target, error) { return f.h.Route(grid) }

// Close releases the listener of a front that is not running. It is
// idempotent; a running front stops when Run's context is done.
func (f *Front) Close() error {
	f.used.Store(true)
	var err error
	f.closeOnce.Do(func() {
		err = f.ln.Close()
		f.h.Close()
	})
	return err
}

// Run serves until ctx is done, then stops accepting requests, waits up to
// a few seconds for those in flight and for failure callbacks, and returns
// nil. It returns an error if the listener fails. Run may be called once.
func (f *Front) Run(ctx context.Context) error {
	if f.used.Swap(true) {
		return ErrFrontRun
	}
	f.log.Info("login front serving", "addr", f.Addr())
	served := make(chan error, 1)
	go func() { served <- f.srv.Serve(f.ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-served:
		err = fmt.Errorf("login front: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if f.srv.Shutdown(sctx) != nil {
		f.srv.Close() // requests still running past the timeout are cut
	}
	if err == nil {
		<-served // http.ErrServerClosed
	}
	f.closeOnce.Do(func() {})
	f.h.Close()
	f.log.Info("login front stopped", "addr", f.Addr())
	return err
}
