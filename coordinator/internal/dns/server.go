package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	mdns "github.com/miekg/dns"
)

// ErrServerRun is returned by [Server.Run] on a server that has already
// been run or closed: its sockets are gone.
var ErrServerRun = errors.New("dns server already run or closed")

// shutdownTimeout bounds how long Run waits for in-flight queries and TCP
// connections after its context is done.
const shutdownTimeout = 5 * time.Second

// bindAttempts is how often New tries to find a port free for both UDP and
// TCP when the configured port is 0.
const bindAttempts = 5

// Server serves a [Handler] on UDP and TCP on the same port.
type Server struct {
	h   *Handler
	log *slog.Logger
	pc  net.PacketConn
	ln  net.Listener

	used      atomic.Bool // set by the first Run or Close
	closeOnce sync.Once
}

// New validates cfg, binds the UDP and TCP sockets (so [Server.Addr] is
// known at once) and returns a server that answers from view once
// [Server.Run] is called. Call Run or Close to release the sockets.
func New(cfg Config, view View) (*Server, error) {
	if err := errors.Join(cfg.Validate(), cfg.validateListen()); err != nil {
		return nil, err
	}
	h, err := NewHandler(cfg, view)
	if err != nil {
		return nil, err
	}
	pc, ln, err := listen(cfg.Addr)
	if err != nil {
		return nil, err
	}
	return &Server{h: h, log: h.log, pc: pc, ln: ln}, nil
}

// listen binds UDP first, then TCP on the port UDP got. With port 0 the
// TCP port may be taken by someone else; then it starts over, a few times.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dns listen address %q: %w", addr, err)
	}
	for attempt := 1; ; attempt++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dns listen udp %s: %w", addr, err)
		}
		udpPort := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(udpPort)))
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if port != "0" || attempt == bindAttempts || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, fmt.Errorf("dns listen tcp %s port %d: %w", host, udpPort, err)
		}
	}
}

// Addr returns the bound address, IP:PORT, the same for UDP and TCP.
func (s *Server) Addr() string { return s.pc.LocalAddr().String() }

// Handler returns the handler the server answers with.
func (s *Server) Handler() *Handler { return s.h }

// ServeDNS answers one query; see [Handler.ServeDNS].
func (s *Server) ServeDNS(w mdns.ResponseWriter, r *mdns.Msg) { s.h.ServeDNS(w, r) }

// Close releases the sockets of a server that is not running. It is
// idempotent; a running server stops when Run's context is done.
func (s *Server) Close() error {
	s.used.Store(true)
	var err error
	s.closeOnce.Do(func() {
		err = errors.Join(s.pc.Close(), s.ln.Close())
	})
	return err
}

// Run serves UDP and TCP until ctx is done, then stops accepting queries,
// waits up to a few seconds for those in flight and returns nil. It returns
// an error if either listener fails. Run may be called once.
func (s *Server) Run(ctx context.Context) error {
	if s.used.Swap(true) {
		return ErrServerRun
	}
	defer s.closeOnce.Do(func() { s.pc.Close(); s.ln.Close() })

	udp := newServing(&mdns.Server{PacketConn: s.pc, Handler: s.h, UDPSize: maxUDPSize, MsgAcceptFunc: acceptQuery})
	tcp := newServing(&mdns.Server{Listener: s.ln, Handler: s.h, MsgAcceptFunc: acceptQuery})
	s.log.Info("dns serving", "addr", s.Addr(), "zone", s.h.zone)

	var err error
	select {
	case <-ctx.Done():
	case <-udp.done:
		err = fmt.Errorf("dns udp: %w", udp.err)
	case <-tcp.done:
		err = fmt.Errorf("dns tcp: %w", tcp.err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	udp.stop(sctx)
	tcp.stop(sctx)
	s.log.Info("dns stopped", "addr", s.Addr())
	return err
}

// serving runs one miekg/dns server in a goroutine and stops it.
type serving struct {
	srv     *mdns.Server
	started chan struct{} // closed once srv can be shut down
	done    chan struct{} // closed when the serve goroutine has returned
	err     error         // the serve error, read after done
}

func newServing(srv *mdns.Server) *serving {
	sv := &serving{srv: srv, started: make(chan struct{}), done: make(chan struct{})}
	srv.NotifyStartedFunc = func() { close(sv.started) }
	go func() {
		defer close(sv.done)
		sv.err = srv.ActivateAndServe()
	}()
	return sv
}

// stop shuts the server down and waits for its goroutine. miekg/dns refuses
// to shut down a server that has not started, so wait for that first.
func (sv *serving) stop(ctx context.Context) {
	select {
	case <-sv.started:
		_ = sv.srv.ShutdownContext(ctx) // only a ctx error, and we wait below
	case <-sv.done:
	}
	<-sv.done
}

// acceptQuery filters packets before they are unpacked: responses are
// ignored, other opcodes get NOTIMP and a question count other than one
// FORMERR without unpacking further, and oversized sections (a query has
// at most an OPT and a TSIG) FORMERR. [Handler.ServeDNS] applies the same
// rules again, so the handler is safe on its own.
func acceptQuery(dh mdns.Header) mdns.MsgAcceptAction {
	const qr = 1 << 15
	if dh.Bits&qr != 0 {
		return mdns.MsgIgnore
	}
	if opcode := int(dh.Bits>>11) & 0xF; opcode != mdns.OpcodeQuery {
		return mdns.MsgRejectNotImplemented
	}
	if dh.Qdcount != 1 || dh.Ancount > 0 || dh.Nscount > 0 || dh.Arcount > 2 {
		return mdns.MsgReject
	}
	return mdns.MsgAccept
}
