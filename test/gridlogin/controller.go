package gridlogin

import (
	"context"
	"sync"
)

// Controller runs a stand-in login service in process, started and stopped
// on demand, always on the same address. It satisfies the agent's service
// controller contract (Start, Stop, Running).
type Controller struct {
	cfg Config

	mu     sync.Mutex // guards srv and done
	srv    *Server
	done   chan struct{}
	starts int
}

// NewController returns a stopped controller for cfg; cfg.Addr must name a
// fixed port.
func NewController(cfg Config) *Controller { return &Controller{cfg: cfg} }

// Start starts serving unless already serving.
func (c *Controller) Start(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srv != nil {
		return nil
	}
	s, err := New(c.cfg)
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		s.Run(context.Background())
		close(done)
	}()
	c.srv, c.done = s, done
	c.starts++
	return nil
}

// Stop stops serving and waits until the listener is closed.
func (c *Controller) Stop(context.Context) error {
	c.mu.Lock()
	s, done := c.srv, c.done
	c.srv, c.done = nil, nil
	c.mu.Unlock()
	if s == nil {
		return nil
	}
	s.Close()
	<-done
	return nil
}

// Running reports whether the service is serving.
func (c *Controller) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.srv != nil
}

// Starts counts how often the service was started.
func (c *Controller) Starts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.starts
}
