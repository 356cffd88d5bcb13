package login

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// gridInfoPath is the one path viewers GET from a grid's login URI.
const gridInfoPath = "/get_grid_info"

// gridPrefix starts a path that names its grid.
const gridPrefix = "/grid/"

// Handler proxies grid logins to the catalogue's healthy login instances;
// see the package documentation. It is safe for concurrent use. Call
// [Handler.Close] when done with it.
type Handler struct {
	cfg       Config
	log       *slog.Logger
	router    router
	transport *http.Transport
	bodies    sync.Pool // *bytes.Buffer for request bodies

	mu       sync.Mutex          // guards inflight and closed
	inflight map[failureKey]bool // failure callbacks still running
	closed   bool                // no more callbacks start
	wg       sync.WaitGroup      // failure callbacks
}

// failureKey names one instance whose failure is being reported.
type failureKey struct{ grid, host, service string }

// NewHandler validates cfg and returns a handler that routes from view.
// Zero fields of cfg take their defaults; Addr is not used.
func NewHandler(cfg Config, view View) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if view == nil {
		return nil, errors.New("login: no catalogue view")
	}
	cfg = cfg.withDefaults()
	return &Handler{
		cfg:       cfg,
		log:       cfg.Logger,
		router:    router{view: view},
		transport: newTransport(cfg),
		bodies:    sync.Pool{New: func() any { return new(bytes.Buffer) }},
		inflight:  map[failureKey]bool{},
	}, nil
}

// newTransport returns the client side towards login instances: plain HTTP
// to catalogue addresses only, no proxy from the environment, bounded
// dialling and waiting for headers, and a small pool of kept-alive
// connections. A Transport never follows redirects; bodies pass through
// undecoded.
func newTransport(cfg Config) *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            (&net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * cfg.DialTimeout}).DialContext,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		ResponseHeaderTimeout:  cfg.Timeout,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// Close stops reporting failures, waits for failure callbacks that are
// running, and closes idle upstream connections. Requests still in flight
// finish normally. It is idempotent.
func (h *Handler) Close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.wg.Wait()
	h.transport.CloseIdleConnections()
}

// Route returns where a login for grid would go first. Errors wrap
// [ErrUnknownGrid], [ErrAmbiguousGrid] or [ErrUnavailable].
func (h *Handler) Route(grid string) (Target, error) { return h.router.route(grid) }

// ServeHTTP routes one request to its grid and proxies it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	grid, rest, ok := h.gridOf(r)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no grid at %s%s: a grid's login URI is /grid/NAME/ or a host name this front knows", r.Host, r.URL.EscapedPath()))
		return
	}
	path, err := url.PathUnescape(rest)
	if err != nil {
		writeError(w, http.StatusBadRequest, "malformed request path")
		return
	}
	if !(r.Method == http.MethodPost || r.Method == http.MethodGet && path == gridInfoPath) {
		w.Header().Set("Allow", allowed(path))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed here: a grid login URI takes XML-RPC POSTs and GET %s", r.Method, gridInfoPath))
		return
	}
	gs, err := h.router.lookup(grid)
	switch {
	case errors.Is(err, ErrUnknownGrid):
		writeError(w, http.StatusNotFound, err.Error())
		return
	case err != nil:
		h.log.Error("grid login misconfigured", "grid", grid, "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}

	var body []byte
	if r.Method == http.MethodPost {
		buf, status, err := h.readBody(w, r)
		if buf != nil {
			defer h.putBody(buf)
		}
		if err != nil {
			writeError(w, status, err.Error())
			return
		}
		body = buf.Bytes()
		if err := checkXML(body); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	u := url.URL{Scheme: "http", Path: path, RawPath: rest, RawQuery: r.URL.RawQuery}
	h.forward(w, r, grid, gs, u, body)
}

// allowed returns the methods a path takes. Every path takes POST, since
// a login service may serve XML-RPC anywhere.
func allowed(path string) string {
	if path == gridInfoPath {
		return "GET, POST"
	}
	return "POST"
}

// gridOf returns the request's grid and the escaped path to forward: by
// path for /grid/NAME/REST, otherwise by Host through [Config.Hosts].
func (h *Handler) gridOf(r *http.Request) (grid, rest string, ok bool) {
	p := r.URL.EscapedPath()
	if name, ok := strings.CutPrefix(p, gridPrefix); ok {
		rest = "/"
		if i := strings.IndexByte(name, '/'); i >= 0 {
			name, rest = name[:i], name[i:]
		}
		grid, err := url.PathUnescape(name)
		if err != nil || !validGridName(grid) {
			return "", "", false
		}
		return grid, rest, true
	}
	if len(h.cfg.Hosts) == 0 {
		return "", "", false
	}
	host := strings.ToLower(r.Host)
	grid, ok = h.cfg.Hosts[host]
	if !ok {
		if name, _, err := net.SplitHostPort(host); err == nil {
			grid, ok = h.cfg.Hosts[name]
		}
	}
	if p == "" {
		p = "/"
	}
	return grid, p, ok
}

// readBody reads a POST body into a pooled buffer, refusing one over
// [Config.MaxBody]. On error it returns the status to answer with.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) (*bytes.Buffer, int, error) {
	if r.ContentLength > h.cfg.MaxBody {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("request body of %d bytes is over the limit of %d", r.ContentLength, h.cfg.MaxBody)
	}
	buf := h.bodies.Get().(*bytes.Buffer)
	buf.Reset()
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return buf, http.StatusRequestEntityTooLarge, fmt.Errorf("request body is over the limit of %d bytes", h.cfg.MaxBody)
	case err != nil:
		return buf, http.StatusBadRequest, fmt.Errorf("reading request body: %w", err)
	}
	return buf, 0, nil
}

// putBody returns a body buffer to the pool unless it grew unusually large.
func (h *Handler) putBody(buf *bytes.Buffer) {
	if buf.Cap() <= DefaultMaxBody {
		h.bodies.Put(buf)
	}
}

// retryWindow is how long forward keeps going round the candidates after
// every one failed: a planned switchover or a failover leaves a gap of a
// few hundred milliseconds between the old instance stopping and the new
// one answering, which a login should ride out rather than fail.
const retryWindow = 3 * time.Second

// retryPause is the pause between two rounds of candidates.
const retryPause = 100 * time.Millisecond

// forward sends the request to the grid's candidates in turn until one
// answers below 500, and passes that answer on. When all fail it looks the
// route up again and retries, for up to retryWindow.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, grid string, gs *gridService, u url.URL, body []byte) {
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.TotalTimeout)
	defer cancel()
	hdr := outboundHeader(r)
	var lastErr error
	tried := 0
	giveUp := time.Now().Add(retryWindow)
	for round := 0; ; round++ {
		cands := h.router.candidates(grid, gs)
		for i, c := range cands {
			if ctx.Err() != nil {
				break
			}
			tried++
			u.Host = c.addr
			resp, done, err := h.attempt(ctx, r, &u, hdr, body)
			if err != nil {
				if r.Context().Err() != nil {
					return // the client left: no one to answer, no one to blame
				}
				lastErr = err
				h.log.Warn("login upstream failed", "grid", grid, "service", gs.service, "host", c.host,
					"addr", c.addr, "primary", c.primary, "err", err)
				if c.primary {
					h.reportFailure(grid, c.host, gs.service, err)
				}
				continue
			}
			if i > 0 || round > 0 {
				h.log.Info("login rerouted", "grid", grid, "service", gs.service, "from", cands[0].host,
					"host", c.host, "healthy", c.healthy, "round", round)
			}
			h.pass(w, resp)
			done()
			return
		}
		if ctx.Err() != nil || time.Now().Add(retryPause).After(giveUp) {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(retryPause):
		}
	}
	if lastErr == nil {
		lastErr = ctx.Err()
	}
	h.log.Error("grid login unavailable", "grid", grid, "service", gs.service, "tried", tried, "err", lastErr)
	writeUnavailable(w, grid)
}

// attempt sends the request to one instance. A refused connection, a
// timeout or a 5xx answer is an error; otherwise the caller must pass the
// response on and then call done.
func (h *Handler) attempt(ctx context.Context, r *http.Request, u *url.URL, hdr http.Header, body []byte) (resp *http.Response, done func(), err error) {
	actx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	out := &http.Request{
		Method: r.Method, URL: u, Host: r.Host, Header: hdr,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
	if body != nil {
		out.ContentLength = int64(len(body))
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	resp, err = h.transport.RoundTrip(out.WithContext(actx))
	if err != nil {
		cancel()
		return nil, nil, err
	}
	if resp.StatusCode >= 500 {
		// Drain a little so that the connection can be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		resp.Body.Close()
		cancel()
		return nil, nil, fmt.Errorf("answered %s", resp.Status)
	}
	return resp, func() { resp.Body.Close(); cancel() }, nil
}

// pass writes an upstream answer to the client: status, end-to-end
// headers and the body, unchanged.
func (h *Handler) pass(w http.ResponseWriter, resp *http.Response) {
	removeHopByHop(resp.Header)
	dst := w.Header()
	for k, vv := range resp.Header {
		dst[k] = vv
	}
	w.WriteHeader(resp.StatusCode)
	// Hiding w's ReadFrom keeps the copy in a pooled buffer: through it the
	// connection would allocate a fresh 32 KiB buffer for every answer.
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	if _, err := io.CopyBuffer(writerOnly{w}, resp.Body, *buf); err != nil {
		h.log.Debug("login answer cut short", "err", err)
	}
}

// copyBufs holds buffers for copying answers to clients.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// writerOnly hides every method of a writer but Write.
type writerOnly struct{ io.Writer }

// reportFailure runs the failure callback for an instance in its own
// goroutine, unless one is still running for it.
func (h *Handler) reportFailure(grid, host, service string, err error) {
	if h.cfg.OnUpstreamFailure == nil {
		return
	}
	k := failureKey{grid, host, service}
	h.mu.Lock()
	if h.closed || h.inflight[k] {
		h.mu.Unlock()
		return
	}
	h.inflight[k] = true
	h.wg.Add(1)
	h.mu.Unlock()
	go func() {
		defer h.wg.Done()
		defer func() {
			h.mu.Lock()
			delete(h.inflight, k)
			h.mu.Unlock()
		}()
		h.cfg.OnUpstreamFailure(grid, host, service, err)
	}()
}

// hopHeaders are the hop-by-hop headers of RFC 9110 §7.6.1, plus the
// Proxy-Connection of old clients.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// removeHopByHop deletes the hop-by-hop headers from h, including those
// that its Connection header names.
func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for name := range strings.SplitSeq(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
}

// outboundHeader returns the headers to send upstream: the client's
// end-to-end headers, with the client's address appended to
// X-Forwarded-For so that the login service can tell who logs in.
func outboundHeader(r *http.Request) http.Header {
	hdr := r.Header.Clone()
	if hdr == nil {
		hdr = http.Header{}
	}
	removeHopByHop(hdr)
	// The body is already read, so there is nothing to wait for.
	hdr.Del("Expect")
	if _, ok := hdr["User-Agent"]; !ok {
		hdr["User-Agent"] = []string{""} // sent as no User-Agent at all
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := hdr["X-Forwarded-For"]; len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		hdr["X-Forwarded-For"] = []string{ip}
	}
	// An empty idempotency key is not sent, but lets the transport send
	// the request again on a fresh connection when a kept-alive one turns
	// out to have been closed by the instance: that is not a failure of
	// the instance. Anything worse fails over to the next instance anyway.
	if _, ok := hdr["Idempotency-Key"]; !ok {
		if _, ok := hdr["X-Idempotency-Key"]; !ok {
			hdr["X-Idempotency-Key"] = nil
		}
	}
	return hdr
}
