package provision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Errors callers branch on.
var (
	// ErrInvalidRequest marks a request the client refuses to send.
	ErrInvalidRequest = errors.New("invalid provisioner request")
	// ErrConflict marks a request whose ID was already used for a
	// different request.
	ErrConflict = errors.New("provisioner request id reused for a different request")
	// ErrRejected marks a deliberate refusal by the hook (an answer with
	// an error, or an HTTP 4xx other than 408 and 429). It is not retried.
	ErrRejected = errors.New("provisioner rejected the request")
)

// maxAnswer bounds what is read from the hook's stdout or response body.
const maxAnswer = 1 << 20

// Client calls the provisioner hook. It is safe for concurrent use.
//
// A request ID reaches the hook once at a time: a second Do with an ID that
// is in flight waits for the first one's answer, and a Do with an ID that
// completed recently returns the recorded answer without calling the hook.
// Failed attempts are retried with exponential back-off until the request
// succeeds, the hook rejects it, MaxAttempts is reached or ctx ends.
type Client struct {
	cfg  Config
	log  *slog.Logger
	http *http.Client
	sem  chan struct{} // one token per hook invocation in flight

	mu       sync.Mutex // guards inflight, done and doneIDs
	inflight map[string]*call
	done     map[string]completed
	doneIDs  []string // completion order, oldest first, for eviction
}

type call struct {
	req     Request
	waiters int // Do calls sharing this call besides the first; for tests
	finish  chan struct{}
	resp    Response
	err     error
}

type completed struct {
	req  Request
	resp Response
}

// New returns a client for cfg, logging to logger.
func New(cfg Config, logger *slog.Logger) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Client{
		cfg:      cfg,
		log:      logger,
		http:     &http.Client{},
		sem:      make(chan struct{}, cfg.MaxInFlight),
		inflight: map[string]*call{},
		done:     map[string]completed{},
	}, nil
}

// Do sends req to the hook and returns its answer. See [Client] for the
// once-per-ID and retry rules.
func (c *Client) Do(ctx context.Context, req Request) (Response, error) {
	if err := req.Validate(); err != nil {
		return Response{}, err
	}
	c.mu.Lock()
	if d, ok := c.done[req.ID]; ok {
		c.mu.Unlock()
		if !d.req.same(req) {
			return Response{}, fmt.Errorf("%w: %s", ErrConflict, req.ID)
		}
		return d.resp, nil
	}
	if cl, ok := c.inflight[req.ID]; ok {
		if !cl.req.same(req) {
			c.mu.Unlock()
			return Response{}, fmt.Errorf("%w: %s", ErrConflict, req.ID)
		}
		cl.waiters++
		c.mu.Unlock()
		select {
		case <-cl.finish:
			return cl.resp, cl.err
		case <-ctx.Done():
			return Response{}, ctx.Err()
		}
	}
	cl := &call{req: req, finish: make(chan struct{})}
	c.inflight[req.ID] = cl
	c.mu.Unlock()

	cl.resp, cl.err = c.retry(ctx, req)

	c.mu.Lock()
	delete(c.inflight, req.ID)
	if cl.err == nil {
		c.remember(req, cl.resp)
	}
	c.mu.Unlock()
	close(cl.finish)
	return cl.resp, cl.err
}

// Completed returns the recorded answer to a completed request ID.
func (c *Client) Completed(id string) (Response, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.done[id]
	return d.resp, ok
}

// remember records a completed request, forgetting the oldest beyond
// RememberIDs. c.mu must be held.
func (c *Client) remember(req Request, resp Response) {
	c.done[req.ID] = completed{req: req, resp: resp}
	c.doneIDs = append(c.doneIDs, req.ID)
	for len(c.doneIDs) > c.cfg.RememberIDs {
		delete(c.done, c.doneIDs[0])
		c.doneIDs = c.doneIDs[1:]
	}
}

// retry runs attempts until one succeeds or retrying must stop.
func (c *Client) retry(ctx context.Context, req Request) (Response, error) {
	backoff := c.cfg.BackoffInitial
	var prev error // the previous attempt's failure
	for attempt := 1; ; attempt++ {
		resp, err := c.attempt(ctx, req)
		if err != nil && ctx.Err() != nil && prev != nil {
			// Cut short by the caller: the earlier failure says more.
			err = prev
		}
		if err == nil {
			c.log.Debug("provisioner request done", "id", req.ID, "kind", req.Kind, "region", req.Region, "attempt", attempt, "hosts", len(resp.Hosts))
			return resp, nil
		}
		if errors.Is(err, ErrRejected) {
			return Response{}, err
		}
		if c.cfg.MaxAttempts > 0 && attempt >= c.cfg.MaxAttempts {
			return Response{}, fmt.Errorf("provisioner %s %s: gave up after %d attempts: %w", req.Kind, req.ID, attempt, err)
		}
		if ctx.Err() != nil {
			return Response{}, fmt.Errorf("provisioner %s %s: attempt %d: %w (%w)", req.Kind, req.ID, attempt, err, ctx.Err())
		}
		pause := backoff/2 + rand.N(backoff/2+1)
		c.log.Warn("provisioner attempt failed, retrying", "id", req.ID, "kind", req.Kind, "region", req.Region, "attempt", attempt, "retry_in", pause, "err", err)
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return Response{}, fmt.Errorf("provisioner %s %s: attempt %d: %w (%w)", req.Kind, req.ID, attempt, err, ctx.Err())
		}
		backoff = min(2*backoff, c.cfg.BackoffMax)
		prev = err
	}
}

// attempt makes one call to the hook while holding an in-flight token.
func (c *Client) attempt(ctx context.Context, req Request) (Response, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return Response{}, ctx.Err()
	}
	defer func() { <-c.sem }()
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var (
		resp Response
		err  error
	)
	if len(c.cfg.Command) > 0 {
		resp, err = c.runCommand(actx, req)
	} else {
		resp, err = c.postWebhook(actx, req)
	}
	if err != nil {
		return Response{}, err
	}
	if resp.ID != "" && resp.ID != req.ID {
		return Response{}, fmt.Errorf("answer is for request %q, not %q", resp.ID, req.ID)
	}
	if resp.Error != "" {
		return Response{}, fmt.Errorf("%w %s: %s", ErrRejected, req.ID, resp.Error)
	}
	return resp, nil
}
