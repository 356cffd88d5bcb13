package mirror

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
	"github.com/understudy/understudy/pkg/wire"
)

// ClientOptions configure the sending side.
type ClientOptions struct {
	// TLS is the client configuration (see [Credentials.ClientTLS]).
	TLS *tls.Config
	// BytesPerSecond limits the chunk stream; zero means no limit.
	BytesPerSecond int64
	// OnPhase, when set, is told when a transfer enters a phase:
	// "offer", "chunks" (with the number of chunks about to be sent) and
	// "commit".
	OnPhase func(phase string, n int)
	Logger  *slog.Logger
}

// Client sends snapshots to one receiver.
type Client struct {
	addr string
	opts ClientOptions
	hc   *http.Client
}

// Errors of Send.
var (
	// ErrEncryption: the two stores disagree on encryption.
	ErrEncryption = errors.New("mirror: sender and receiver stores disagree on encryption")
	// ErrVersion: the receiver speaks another protocol version.
	ErrVersion = errors.New("mirror: protocol version mismatch")
	// ErrIncomplete: the receiver refused the commit because chunks are
	// missing (a concurrent prune on the receiver); sending again helps.
	ErrIncomplete = errors.New("mirror: receiver lacks chunks of the snapshot")
)

// RemoteError is a refusal from the receiver.
type RemoteError struct {
	Status int
	// Code is one of the wire.Code* constants, or empty.
	Code    string
	Message string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("mirror: receiver answered %d: %s", e.Status, e.Message)
}

// NewClient returns a client for the receiver at addr (host:port).
func NewClient(addr string, opts ClientOptions) *Client {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     opts.TLS,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     time.Minute,
		WriteBufferSize:     256 << 10,
		ReadBufferSize:      64 << 10,
	}
	return &Client{addr: addr, opts: opts, hc: &http.Client{Transport: tr}}
}

// Close drops idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Result reports one Send.
type Result struct {
	Snapshot string
	// Chunks is how many chunk IDs were offered: all of the snapshot's,
	// or, when Base is set, those it does not share with Base (its parent,
	// which the receiver holds). Sent of them were missing on the receiver
	// and sent, BytesSent their stored bytes.
	Chunks    int
	Base      string
	Sent      int
	BytesSent int64
	Committed wire.Committed
	Duration  time.Duration
}

// Hello asks the receiver about itself.
func (c *Client) Hello(ctx context.Context) (wire.Hello, error) {
	var h wire.Hello
	err := c.call(ctx, http.MethodGet, wire.PathHello, nil, &h)
	return h, err
}

// Send mirrors rec from st to the receiver: only the chunks it lacks,
// then the record. It is safe to call again after any failure; what
// arrived is not sent again.
func (c *Client) Send(ctx context.Context, st *store.Store, rec *snapshot.Record) (*Result, error) {
	start := time.Now()
	h, err := c.Hello(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case h.Version != wire.Version:
		return nil, fmt.Errorf("%w: receiver %s speaks %d, this agent %d", ErrVersion, h.Host, h.Version, wire.Version)
	case h.Polynomial != st.Polynomial():
		return nil, fmt.Errorf("%w: receiver %s chunks with %#x, this store with %#x", ErrPolynomial, h.Host, uint64(h.Polynomial), uint64(st.Polynomial()))
	case h.Encrypted != st.Encrypted():
		return nil, fmt.Errorf("%w (receiver %s)", ErrEncryption, h.Host)
	}
	res := &Result{Snapshot: rec.ID}
	base := c.base(ctx, st, rec)
	for {
		err := c.transfer(ctx, st, rec, base, res)
		if errors.Is(err, errBaseMissing) {
			// The receiver lacks the base: offer everything.
			base = nil
			continue
		}
		if err != nil {
			return res, err
		}
		c.phase("commit", 0)
		err = c.call(ctx, http.MethodPost, wire.PathCommit, wire.Commit{Version: wire.Version, Record: rec}, &res.Committed)
		var re *RemoteError
		if errors.As(err, &re) && re.Code == wire.CodeIncomplete {
			if base != nil {
				// The receiver no longer holds all of the base's
				// chunks (or ignored it): offer everything.
				base = nil
				continue
			}
			return res, fmt.Errorf("%w: %s", ErrIncomplete, re.Message)
		}
		if err != nil {
			return res, err
		}
		break
	}
	res.Duration = time.Since(start)
	c.opts.Logger.Debug("snapshot mirrored", "dataset", rec.Dataset, "snapshot", snapshot.ShortID(rec.ID),
		"chunks", res.Chunks, "sent", res.Sent, "bytes", res.BytesSent, "took", res.Duration)
	return res, nil
}

// errBaseMissing is the receiver's answer to offers against a base it
// does not hold.
var errBaseMissing = errors.New("mirror: receiver lacks the base snapshot")

// base returns rec's parent when this store still holds it, so that the
// offers can leave out what the two share; nil otherwise.
func (c *Client) base(ctx context.Context, st *store.Store, rec *snapshot.Record) *snapshot.Record {
	if rec.Parent == "" {
		return nil
	}
	p, err := snapshot.Load(ctx, st, rec.Parent)
	if err != nil || p.Dataset != rec.Dataset {
		return nil
	}
	return p
}

// transfer offers rec's chunks (only those it does not share with base,
// when base is set) and sends what the receiver lacks. Offers come first,
// then one stream of chunks, so the receiver makes them durable once
// rather than once per batch.
func (c *Client) transfer(ctx context.Context, st *store.Store, rec, base *snapshot.Record, res *Result) error {
	c.phase("offer", 0)
	res.Chunks, res.Base = 0, ""
	var missing []chunk.ID
	offer := func(ids []chunk.ID) error {
		res.Chunks += len(ids)
		o := wire.Offer{Version: wire.Version, Dataset: rec.Dataset, Snapshot: rec.ID, Chunks: ids}
		if base != nil {
			o.Base = base.ID
		}
		var want wire.Want
		if err := c.call(ctx, http.MethodPost, wire.PathOffer, o, &want); err != nil {
			return err
		}
		if want.BaseMissing && base != nil {
			return errBaseMissing
		}
		missing = append(missing, want.Missing...)
		return nil
	}
	var err error
	if base != nil {
		res.Base = base.ID
		err = forEachDelta(ctx, st, base, rec, offer)
	} else {
		err = forEachBatch(ctx, st, rec, offer)
	}
	if err != nil {
		return err
	}
	if len(missing) == 0 {
		return nil
	}
	c.phase("chunks", len(missing))
	n, err := c.sendChunks(ctx, st, missing)
	res.BytesSent += n
	if err != nil {
		return err
	}
	res.Sent += len(missing)
	return nil
}

// Pull asks the agent to send its latest snapshot of dataset to host
// (this agent, named by its certificate) and waits until host committed it.
func (c *Client) Pull(ctx context.Context, dataset, host string) (wire.Committed, error) {
	var ans wire.Committed
	err := c.call(ctx, http.MethodPost, wire.PathPull, wire.Pull{Version: wire.Version, Dataset: dataset, Host: host}, &ans)
	return ans, err
}

func (c *Client) phase(p string, n int) {
	if c.opts.OnPhase != nil {
		c.opts.OnPhase(p, n)
	}
}

// readAhead is how many chunks the sender reads ahead of the connection;
// locateBatch how many it looks up in one index transaction; the sender
// keeps the kernel reading up to prefetchBytes of packs ahead of its own
// reads.
const (
	readAhead     = 4
	locateBatch   = 256
	prefetchBytes = 32 << 20
)

// planned is a chunk to send and where it lies.
type planned struct {
	id  chunk.ID
	loc store.Location
}

// readPlan locates ids and orders them by pack and offset, so that the
// packs are read front to back.
func readPlan(ctx context.Context, st *store.Store, ids []chunk.ID) ([]planned, error) {
	plan := make([]planned, 0, len(ids))
	for start := 0; start < len(ids); start += locateBatch {
		batch := ids[start:min(start+locateBatch, len(ids))]
		locs, ok, err := st.Locate(ctx, batch)
		if err != nil {
			return nil, err
		}
		for i, id := range batch {
			if !ok[i] {
				return nil, fmt.Errorf("chunk %s: %w", id.Short(), store.ErrNotFound)
			}
			plan = append(plan, planned{id, locs[i]})
		}
	}
	slices.SortFunc(plan, func(a, b planned) int { return a.loc.Compare(b.loc) })
	return plan, nil
}

func locations(ps []planned) []store.Location {
	out := make([]store.Location, len(ps))
	for i, p := range ps {
		out[i] = p.loc
	}
	return out
}

// sendChunks streams the stored form of ids. A reader goroutine reads
// chunks at most readAhead ahead of a writer goroutine that frames them
// into a pipe the request body drains: memory holds a few chunks, and a
// slow link slows the reads (back-pressure, no unbounded queue).
func (c *Client) sendChunks(ctx context.Context, st *store.Store, ids []chunk.ID) (int64, error) {
	pr, pw := io.Pipe()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type blob struct {
		id  chunk.ID
		b   []byte
		err error
	}
	blobs := make(chan blob, readAhead)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(blobs)
		send := func(bl blob) bool {
			select {
			case blobs <- bl:
				return bl.err == nil
			case <-rctx.Done():
				return false
			}
		}
		plan, err := readPlan(rctx, st, ids)
		if err != nil {
			send(blob{err: err})
			return
		}
		// plan[:ahead] has been prefetched, aheadBytes of it not read yet.
		ahead, aheadBytes := 0, int64(0)
		for _, p := range plan {
			if aheadBytes < prefetchBytes/2 && ahead < len(plan) {
				j := ahead
				for j < len(plan) && aheadBytes < prefetchBytes {
					aheadBytes += int64(plan[j].loc.Length)
					j++
				}
				st.Prefetch(locations(plan[ahead:j]))
				ahead = j
			}
			aheadBytes -= int64(p.loc.Length)
			b, err := st.GetStoredAt(p.loc, nil)
			if errors.Is(err, fs.ErrNotExist) { // moved by a prune
				b, err = st.GetStored(rctx, p.id)
			}
			if err != nil {
				err = fmt.Errorf("chunk %s: %w", p.id.Short(), err)
			}
			if !send(blob{p.id, b, err}) {
				return
			}
		}
	})
	var sent int64
	var werr error
	wg.Go(func() {
		var w io.Writer = pw
		if c.opts.BytesPerSecond > 0 {
			w = limitedWriter{ctx: rctx, w: pw, l: newLimiter(c.opts.BytesPerSecond)}
		}
		bw := bufio.NewWriterSize(w, 64<<10)
		werr = func() error {
			n := 0
			for bl := range blobs {
				if bl.err != nil {
					return bl.err
				}
				if err := wire.WriteFrame(bw, bl.id, bl.b); err != nil {
					return err
				}
				sent += int64(len(bl.b))
				n++
			}
			if err := rctx.Err(); err != nil {
				return err
			}
			if n != len(ids) {
				return fmt.Errorf("mirror: read %d of %d chunks", n, len(ids))
			}
			if err := wire.WriteEnd(bw, n); err != nil {
				return err
			}
			return bw.Flush()
		}()
		pw.CloseWithError(werr)
		if werr != nil {
			cancel()
			for range blobs {
			}
		}
	})
	var got wire.Received
	err := c.do(ctx, http.MethodPost, wire.PathChunks, "application/octet-stream", pr, &got)
	pr.CloseWithError(errors.New("mirror: request ended"))
	cancel()
	wg.Wait()
	if err == nil && werr != nil {
		err = werr
	}
	if err == nil && got.Chunks != len(ids) {
		err = fmt.Errorf("mirror: receiver stored %d of %d chunks", got.Chunks, len(ids))
	}
	return sent, err
}

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	return c.do(ctx, method, path, "application/json", body, out)
}

func (c *Client) do(ctx context.Context, method, path, ctype string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "https://"+c.addr+path, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("mirror %s: %w", c.addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var we wire.Error
		if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&we); err != nil || we.Error == "" {
			we.Error = http.StatusText(resp.StatusCode)
		}
		return &RemoteError{Status: resp.StatusCode, Code: we.Code, Message: we.Error}
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(out); err != nil {
		return fmt.Errorf("mirror %s: decode answer: %w", c.addr, err)
	}
	return nil
}
