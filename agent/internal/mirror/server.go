package mirror

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
	"github.com/understudy/understudy/pkg/wire"
)

// ServerConfig configures the receiving side.
type ServerConfig struct {
	// Store receives the chunks and records.
	Store *store.Store
	// Host is this agent's node name, told to senders.
	Host string
	// OnCommit, when set, is called after a snapshot was committed (or
	// was already there), before the sender gets its answer: the standby
	// updates its warm copy here. Its error is reported to the sender; the
	// snapshot stays committed either way. It may be called concurrently
	// for different snapshots.
	OnCommit func(ctx context.Context, rec *snapshot.Record) error
	// OnPull, when set, serves a [wire.Pull]: send the latest snapshot of
	// dataset to host (which the requester's certificate names) and
	// return what host answered to the commit.
	OnPull func(ctx context.Context, dataset, host string) (wire.Committed, error)
	Logger *slog.Logger
}

// Server is the receiving side of the mirror protocol, an http.Handler.
type Server struct {
	cfg ServerConfig
	mux *http.ServeMux
}

// flushTimeout bounds making received chunks durable after the sender
// went away.
const flushTimeout = time.Minute

// NewServer returns a Server for cfg.
func NewServer(cfg ServerConfig) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET "+wire.PathHello, s.hello)
	s.mux.HandleFunc("POST "+wire.PathOffer, s.offer)
	s.mux.HandleFunc("POST "+wire.PathChunks, s.chunks)
	s.mux.HandleFunc("POST "+wire.PathCommit, s.commit)
	s.mux.HandleFunc("POST "+wire.PathPull, s.pull)
	return s
}

// Handle serves another handler on the mirror listener (behind the same
// mutual TLS), such as continuous shipping's receiver. Call it before
// Serve.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Serve answers mirror connections on ln with TLS configuration tc (see
// [Credentials.ServerTLS]) until ctx is done.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tc *tls.Config) error {
	srv := &http.Server{
		Handler:           s,
		TLSConfig:         tc,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	err := srv.ServeTLS(ln, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *Server) hello(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, wire.Hello{Version: wire.Version, Host: s.cfg.Host,
		Polynomial: s.cfg.Store.Polynomial(), Encrypted: s.cfg.Store.Encrypted()})
}

func (s *Server) offer(w http.ResponseWriter, r *http.Request) {
	var o wire.Offer
	if !decode(w, r, &o, wire.MaxOfferIDs*70+4096) || !checkVersion(w, o.Version) {
		return
	}
	if len(o.Chunks) > wire.MaxOfferIDs {
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, fmt.Sprintf("offer of %d chunks exceeds %d", len(o.Chunks), wire.MaxOfferIDs))
		return
	}
	if o.Base != "" {
		if _, err := snapshot.Load(r.Context(), s.cfg.Store, o.Base); err != nil {
			writeJSON(w, http.StatusOK, wire.Want{Missing: []chunk.ID{}, BaseMissing: true})
			return
		}
	}
	missing, err := s.cfg.Store.Missing(r.Context(), o.Chunks)
	if err != nil {
		writeError(w, http.StatusInternalServerError, wire.CodeStore, err.Error())
		return
	}
	if missing == nil {
		missing = []chunk.ID{}
	}
	writeJSON(w, http.StatusOK, wire.Want{Missing: missing})
}

// chunks stores a frame stream. Frames are checked and stored by a few
// workers (checking means decompressing and hashing, the receiver's main
// cost), with one buffer per worker plus one being read: memory stays
// bounded and a slow store slows the reads, and so the sender. Whatever
// arrived whole is made durable even when the stream breaks, so a resumed
// transfer skips it.
func (s *Server) chunks(w http.ResponseWriter, r *http.Request) {
	wr, err := s.cfg.Store.Lock(r.Context(), store.LockOptions{Wait: true})
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, wire.CodeStore, err.Error())
		return
	}
	defer wr.Close()
	workers := max(2, runtime.GOMAXPROCS(0))
	type frame struct {
		id  chunk.ID
		buf []byte
	}
	free := make(chan []byte, workers+1)
	for range workers + 1 {
		free <- nil
	}
	work := make(chan frame)
	var (
		mu      sync.Mutex
		got     wire.Received
		putErr  error // guarded by mu; the first chunk refused
		wg      sync.WaitGroup
		stopped = make(chan struct{})
		stop    sync.Once
	)
	for range workers {
		wg.Go(func() {
			for f := range work {
				err := wr.PutStored(r.Context(), f.id, f.buf)
				mu.Lock()
				if err != nil && putErr == nil {
					putErr = fmt.Errorf("chunk %s: %w", f.id.Short(), err)
					stop.Do(func() { close(stopped) })
				} else if err == nil {
					got.Chunks++
					got.Bytes += int64(len(f.buf))
				}
				mu.Unlock()
				free <- f.buf
			}
		})
	}
	fr := wire.NewFrameReader(bufio.NewReaderSize(r.Body, 256<<10))
	var streamErr error
read:
	for {
		id, b, err := fr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			streamErr = err
			break
		}
		var buf []byte
		select {
		case buf = <-free:
		case <-stopped:
			break read
		}
		buf = append(buf[:0], b...)
		select {
		case work <- frame{id, buf}:
		case <-stopped:
			break read
		}
	}
	close(work)
	wg.Wait()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), flushTimeout)
	defer cancel()
	if err := wr.Flush(fctx); err != nil {
		writeError(w, http.StatusInternalServerError, wire.CodeStore, err.Error())
		return
	}
	if putErr != nil {
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, putErr.Error())
		return
	}
	if streamErr != nil {
		s.cfg.Logger.Debug("chunk stream broken, kept what arrived", "chunks", got.Chunks, "err", streamErr)
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, streamErr.Error())
		return
	}
	writeJSON(w, http.StatusOK, got)
}

func (s *Server) commit(w http.ResponseWriter, r *http.Request) {
	var c wire.Commit
	if !decode(w, r, &c, 16<<20) || !checkVersion(w, c.Version) {
		return
	}
	rec := c.Record
	if rec == nil || len(rec.Tree) == 0 || rec.Dataset == "" {
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, "commit without a snapshot record")
		return
	}
	ctx := r.Context()
	ans := wire.Committed{Snapshot: rec.ID}
	if _, err := snapshot.Load(ctx, s.cfg.Store, rec.ID); err == nil {
		ans.Existed = true
	} else {
		if err := Complete(ctx, s.cfg.Store, rec); err != nil {
			code, status := wire.CodeStore, http.StatusInternalServerError
			if errors.Is(err, snapshot.ErrIncomplete) {
				code, status = wire.CodeIncomplete, http.StatusConflict
			}
			writeError(w, status, code, err.Error())
			return
		}
		wr, err := s.cfg.Store.Lock(ctx, store.LockOptions{Wait: true})
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, wire.CodeStore, err.Error())
			return
		}
		err = snapshot.Save(ctx, wr, rec)
		wr.Close()
		if err != nil {
			code, status := wire.CodeStore, http.StatusInternalServerError
			if errors.Is(err, snapshot.ErrIncomplete) {
				code, status = wire.CodeIncomplete, http.StatusConflict
			} else if errors.Is(err, snapshot.ErrBadRecord) {
				code, status = wire.CodeBadRequest, http.StatusBadRequest
			}
			writeError(w, status, code, err.Error())
			return
		}
		s.cfg.Logger.Info("snapshot received", "dataset", rec.Dataset, "snapshot", snapshot.ShortID(rec.ID), "host", rec.Host)
	}
	if s.cfg.OnCommit != nil {
		if err := s.cfg.OnCommit(ctx, rec); err != nil {
			ans.WarmCopyError = err.Error()
		} else {
			ans.WarmCopy = true
		}
	}
	writeJSON(w, http.StatusOK, ans)
}

func (s *Server) pull(w http.ResponseWriter, r *http.Request) {
	var p wire.Pull
	if !decode(w, r, &p, 4096) || !checkVersion(w, p.Version) {
		return
	}
	if s.cfg.OnPull == nil {
		writeError(w, http.StatusNotFound, wire.CodeBadRequest, "this agent serves no pulls")
		return
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || !slices.Contains(CertNames(r.TLS.PeerCertificates[0]), p.Host) {
		writeError(w, http.StatusForbidden, wire.CodeBadRequest, fmt.Sprintf("the client certificate does not name %q", p.Host))
		return
	}
	ans, err := s.cfg.OnPull(r.Context(), p.Dataset, p.Host)
	if err != nil {
		writeError(w, http.StatusBadGateway, wire.CodeStore, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

// Complete checks that st holds every chunk rec needs: its manifest's
// and every file's. It returns an error wrapping snapshot.ErrIncomplete
// otherwise.
//
// When st holds rec's parent, only the chunks rec does not share with it
// are looked up: the parent was complete when it was committed, and a
// prune keeps every chunk a listed snapshot references.
func Complete(ctx context.Context, st *store.Store, rec *snapshot.Record) error {
	var base *snapshot.Record
	if rec.Parent != "" {
		if p, err := snapshot.Load(ctx, st, rec.Parent); err == nil && p.Dataset == rec.Dataset {
			base = p
		}
	}
	missing, err := st.Missing(ctx, rec.Tree)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: snapshot %s lacks %d manifest chunks", snapshot.ErrIncomplete, snapshot.ShortID(rec.ID), len(missing))
	}
	lacking := 0
	check := func(ids []chunk.ID) error {
		m, err := st.Missing(ctx, ids)
		lacking += len(m)
		return err
	}
	if base != nil {
		err = forEachDelta(ctx, st, base, rec, check)
	} else {
		err = forEachBatch(ctx, st, rec, check)
	}
	if err != nil {
		return err
	}
	if lacking > 0 {
		return fmt.Errorf("%w: snapshot %s lacks %d chunks", snapshot.ErrIncomplete, snapshot.ShortID(rec.ID), lacking)
	}
	return nil
}

func decode(w http.ResponseWriter, r *http.Request, v any, limit int64) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit)).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, "decode: "+err.Error())
		return false
	}
	return true
}

func checkVersion(w http.ResponseWriter, v int) bool {
	if v != wire.Version {
		writeError(w, http.StatusBadRequest, wire.CodeVersion, fmt.Sprintf("protocol version %d, this agent speaks %d", v, wire.Version))
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, wire.Error{Error: msg, Code: code})
}
