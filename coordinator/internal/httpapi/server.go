package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/understudy/understudy/coordinator/internal/catalog"
	"github.com/understudy/understudy/pkg/api"
)

// ErrUnavailable wraps errors that mean "try again later": no leader,
// leadership lost during the write, Raft shutting down.
var ErrUnavailable = errors.New("unavailable")

// Backend is what the API needs from the coordinator. Implementations must be
// safe for concurrent use.
type Backend interface {
	// Catalog is the local replica.
	Catalog() *catalog.Catalog
	// Apply commits a command through Raft on this node, which must be the
	// leader. Rejections wrap catalog.ErrInvalid or catalog.ErrNotFound;
	// other failures wrap ErrUnavailable.
	Apply(ctx context.Context, cmd catalog.Command) error
	// Leader reports whether this node leads and, if not, the HTTP address
	// of the leader ("" when there is none or it is unknown).
	Leader() (self bool, httpAddr string)
	// LeaderID returns the Raft ID and address of the current leader.
	LeaderID() (id, raftAddr string)
	// VerifyLeader confirms leadership with a quorum.
	VerifyLeader(ctx context.Context) error
	// Peers lists the Raft configuration.
	Peers() ([]api.Peer, error)
	// RemovePeer drops a coordinator from the Raft configuration (leader
	// only).
	RemovePeer(ctx context.Context, id string) error
	// Members lists the gossip pool.
	Members() []api.Member
	// RenewLease grants or renews host's lease as primary of service at
	// epoch (leader only); a refusal wraps catalog.ErrConflict.
	RenewLease(ctx context.Context, service, host string, epoch uint64) (time.Duration, error)
	// ReleaseLease drops host's lease of service (leader only).
	ReleaseLease(service, host string)
	// Failover makes a planned switchover of service to host to, or to the
	// best standby when to is empty (leader only).
	Failover(ctx context.Context, service, to string) (catalog.Promotion, error)
	// Drain switches every service whose primary is host over to standbys
	// (leader only).
	Drain(ctx context.Context, host string) ([]catalog.Promotion, error)
	// Route returns where the login front sends a grid's logins now; the
	// errors wrap catalog.ErrNotFound for an unknown grid and ErrUnavailable
	// when no instance can take a login.
	Route(grid string) (api.Route, error)
}

// Config holds the tokens and limits of the API.
type Config struct {
	// AdminToken authorises every write.
	AdminToken string
	// AgentToken authorises agent registration only.
	AgentToken string
	// MaxBodyBytes bounds request bodies (default 1 MiB).
	MaxBodyBytes int64
	// Now is the clock used for command timestamps (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

const forwardedHeader = "X-Understudy-Forwarded"

// Handler is the API's http.Handler.
type Handler struct {
	cfg Config
	b   Backend
	mux *http.ServeMux
	// forwardTransport carries writes to the leader over kept-alive
	// connections: a new connection per forwarded write would dominate
	// its latency.
	forwardTransport *http.Transport
}

// New returns the API handler.
func New(cfg Config, b Backend) *Handler {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{cfg: cfg, b: b, mux: http.NewServeMux(), forwardTransport: &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
	}}
	h.routes()
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

type scope int

const (
	scopeAdmin scope = iota
	scopeAgent
)

func (h *Handler) routes() {
	h.mux.HandleFunc("GET /v1/status/leader", h.leader)
	h.mux.HandleFunc("GET /v1/peers", h.read(h.peers))
	h.mux.HandleFunc("DELETE /v1/peers/{id}", h.write(scopeAdmin, h.removePeer))
	h.mux.HandleFunc("GET /v1/members", h.members)
	h.mux.HandleFunc("GET /v1/hosts", h.read(h.hosts))
	h.mux.HandleFunc("GET /v1/hosts/{name}", h.read(h.host))
	h.mux.HandleFunc("DELETE /v1/hosts/{name}", h.write(scopeAdmin, h.deleteHost))
	h.mux.HandleFunc("GET /v1/services", h.read(h.services))
	h.mux.HandleFunc("GET /v1/services/{name}", h.read(h.service))
	h.mux.HandleFunc("PUT /v1/register", h.write(scopeAgent, h.register))
	h.mux.HandleFunc("GET /v1/hosts/{name}/instances", h.read(h.hostInstances))
	h.mux.HandleFunc("PUT /v1/hosts/{name}/instances/{service}/running", h.write(scopeAgent, h.setRunning))
	h.mux.HandleFunc("POST /v1/hosts/{name}/instances/{service}/resynced", h.write(scopeAgent, h.resynced))
	h.mux.HandleFunc("PUT /v1/leases/{service}", h.write(scopeAgent, h.renewLease))
	h.mux.HandleFunc("DELETE /v1/leases/{service}", h.write(scopeAgent, h.releaseLease))
	h.mux.HandleFunc("POST /v1/services/{name}/failover", h.write(scopeAdmin, h.failover))
	h.mux.HandleFunc("POST /v1/hosts/{name}/drain", h.write(scopeAdmin, h.drain))
	h.mux.HandleFunc("POST /v1/hosts/{name}/fence", h.write(scopeAdmin, h.fence(true)))
	h.mux.HandleFunc("DELETE /v1/hosts/{name}/fence", h.write(scopeAdmin, h.fence(false)))
	h.mux.HandleFunc("GET /v1/promotions", h.read(h.promotions))
	h.mux.HandleFunc("GET /v1/pools", h.read(h.pools))
	h.mux.HandleFunc("GET /v1/pools/{region}", h.read(h.pool))
	h.mux.HandleFunc("PUT /v1/pools/{region}", h.write(scopeAdmin, h.setPool))
	h.mux.HandleFunc("POST /v1/pools/{region}/allocate", h.write(scopeAdmin, h.allocate))
	h.mux.HandleFunc("POST /v1/pools/{region}/deallocate", h.write(scopeAdmin, h.deallocate))
	h.mux.HandleFunc("GET /v1/datasets", h.read(h.datasets))
	h.mux.HandleFunc("PUT /v1/hosts/{name}/datasets/{dataset}", h.write(scopeAgent, h.reportDataset))
	h.mux.HandleFunc("GET /v1/cluster", h.read(h.cluster))
	h.mux.HandleFunc("POST /v1/hosts/{name}/instances/{service}/restart", h.write(scopeAdmin, h.restart))
	h.mux.HandleFunc("GET /v1/route/{grid}", h.route)
	h.mux.HandleFunc("GET /v1/state", h.read(h.saveState))
	h.mux.HandleFunc("PUT /v1/state", h.write(scopeAdmin, h.restoreState))
	h.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
}

// read wraps a read handler: with ?consistent the leader verifies its
// leadership first, and a follower forwards the read to the leader.
func (h *Handler) read(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.URL.Query()["consistent"]; ok {
			self, addr := h.b.Leader()
			if !self {
				h.forward(w, r, addr)
				return
			}
			if err := h.b.VerifyLeader(r.Context()); err != nil {
				writeError(w, http.StatusServiceUnavailable, "leadership not confirmed: "+err.Error())
				return
			}
		}
		next(w, r)
	}
}

// write wraps a write handler: it checks the token, then runs the handler on
// the leader or forwards the request there.
func (h *Handler) write(s scope, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if code, msg := h.authorize(r, s); code != 0 {
			writeError(w, code, msg)
			return
		}
		self, addr := h.b.Leader()
		if !self {
			h.forward(w, r, addr)
			return
		}
		if r.URL.Path != "/v1/state" { // a saved state may be large; it sets its own bound
			r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes)
		}
		next(w, r)
	}
}

func (h *Handler) authorize(r *http.Request, s scope) (int, string) {
	tok := r.Header.Get(api.TokenHeader)
	if tok == "" {
		if a, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			tok = a
		}
	}
	if tok == "" {
		return http.StatusUnauthorized, "missing token: set " + api.TokenHeader
	}
	if tokenEqual(tok, h.cfg.AdminToken) || (s == scopeAgent && tokenEqual(tok, h.cfg.AgentToken)) {
		return 0, ""
	}
	return http.StatusForbidden, "token not allowed to do this"
}

func tokenEqual(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func (h *Handler) forward(w http.ResponseWriter, r *http.Request, leaderAddr string) {
	if r.Header.Get(forwardedHeader) != "" {
		writeError(w, http.StatusServiceUnavailable, "no leader: forwarded request reached a follower")
		return
	}
	if leaderAddr == "" {
		writeError(w, http.StatusServiceUnavailable, "no leader")
		return
	}
	target := &url.URL{Scheme: "http", Host: leaderAddr}
	proxy := &httputil.ReverseProxy{
		Transport: h.forwardTransport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Set(forwardedHeader, "1")
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeError(w, http.StatusServiceUnavailable, "leader unreachable: "+err.Error())
		},
	}
	proxy.ServeHTTP(w, r)
}

func (h *Handler) apply(w http.ResponseWriter, r *http.Request, cmd catalog.Command) bool {
	return h.check(w, h.b.Apply(r.Context(), cmd))
}

// check writes the answer for a failed operation and reports whether err
// was nil.
func (h *Handler) check(w http.ResponseWriter, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, catalog.ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, catalog.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, catalog.ErrConflict):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, ErrUnavailable):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	default:
		h.cfg.Logger.Error("request failed", "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
	}
	return false
}

func (h *Handler) leader(w http.ResponseWriter, _ *http.Request) {
	id, addr := h.b.LeaderID()
	writeJSON(w, http.StatusOK, api.Leader{ID: id, Address: addr})
}

func (h *Handler) peers(w http.ResponseWriter, _ *http.Request) {
	p, err := h.b.Peers()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (h *Handler) removePeer(w http.ResponseWriter, r *http.Request) {
	if err := h.b.RemovePeer(r.Context(), r.PathValue("id")); err != nil {
		code := http.StatusServiceUnavailable
		if errors.Is(err, catalog.ErrNotFound) {
			code = http.StatusNotFound
		}
		writeError(w, code, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) members(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, h.b.Members())
}

func (h *Handler) hosts(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, h.b.Catalog().Hosts())
}

func (h *Handler) host(w http.ResponseWriter, r *http.Request) {
	host, ok := h.b.Catalog().Host(r.PathValue("name"))
	if !ok {
		writeError(w, http.StatusNotFound, "no host named "+r.PathValue("name"))
		return
	}
	writeJSON(w, http.StatusOK, host)
}

func (h *Handler) deleteHost(w http.ResponseWriter, r *http.Request) {
	if h.apply(w, r, &catalog.DeleteHost{Name: r.PathValue("name")}) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (h *Handler) services(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, h.b.Catalog().Services())
}

func (h *Handler) service(w http.ResponseWriter, r *http.Request) {
	svc, ok := h.b.Catalog().Service(r.PathValue("name"))
	if !ok {
		writeError(w, http.StatusNotFound, "no service named "+r.PathValue("name"))
		return
	}
	writeJSON(w, http.StatusOK, svc)
}

func (h *Handler) register(w http.ResponseWriter, r *http.Request) {
	var reg api.Registration
	if !decode(w, r, &reg) {
		return
	}
	if reg.Name == "" {
		writeError(w, http.StatusBadRequest, "registration: name is empty")
		return
	}
	defs := make([]catalog.ServiceDef, 0, len(reg.Services))
	for _, s := range reg.Services {
		defs = append(defs, catalog.ServiceDef{Name: s.Name, Grid: s.Grid, Port: s.Port, Tags: s.Tags,
			Primary: s.Primary, HasCheck: s.HasCheck})
	}
	cmd := &catalog.RegisterServices{Host: reg.Name, Services: defs, Upsert: &catalog.UpsertHost{
		Name: reg.Name, Region: reg.Region, Role: catalog.Role(reg.Role),
		Address: reg.Address, Version: reg.Version, At: h.cfg.Now().UnixMilli(),
	}}
	if h.apply(w, r, cmd) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", mbe.Limit))
			return false
		}
		writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, api.Error{Error: msg})
}
