package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/understudy/understudy/coordinator/internal/catalog"
	"github.com/understudy/understudy/coordinator/internal/login"
	"github.com/understudy/understudy/coordinator/internal/provision"
	"github.com/understudy/understudy/pkg/api"
)

func (s *Server) newLoginFront() (*login.Front, error) {
	lc := login.DefaultConfig()
	lc.Addr = net.JoinHostPort(s.cfg.BindAddr, strconv.Itoa(s.cfg.Ports.Login))
	lc.Hosts = s.cfg.Login.Hosts
	if s.cfg.Login.Timeout > 0 {
		lc.Timeout = s.cfg.Login.Timeout
	}
	lc.Logger = s.logger.With("component", "login")
	lc.OnUpstreamFailure = s.loginFailed
	if s.cfg.Provisioner.enabled() {
		hc, err := s.cfg.Provisioner.hookConfig()
		if err == nil {
			s.restartHook, err = provision.New(hc, s.logger.With("component", "provisioner"))
		}
		if err != nil {
			return nil, fmt.Errorf("provisioner: %w", err)
		}
	}
	return login.New(lc, s.catalog)
}

// loginFailed reacts to a grid's primary login instance failing a request
// that the front then sent elsewhere: the host's agent is asked to restart
// the service, or when the agent is gone too, the provisioner to restart the
// machine.
func (s *Server) loginFailed(grid, host, service string, err error) {
	s.logger.Warn("login instance failed, rerouted", "grid", grid, "host", host, "service", service, "err", err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, ok := s.catalog.Host(host)
	if ok && h.Status == catalog.HostAlive {
		// Through this member's own API, so that a follower's request
		// reaches the leader like any other write.
		c := api.NewClient(s.HTTPAddr(), s.cfg.ACL.AdminToken)
		if aerr := c.RequestRestart(ctx, host, service); aerr != nil {
			s.logger.Warn("restart request not recorded", "host", host, "service", service, "err", aerr)
			return
		}
		s.logger.Info("restart requested", "host", host, "service", service)
		return
	}
	if s.restartHook == nil {
		s.logger.Warn("host down and no provisioner configured to restart it", "host", host)
		return
	}
	// One restart request per host and minute, however many logins fail.
	id := fmt.Sprintf("restart-%s-%d", host, time.Now().UnixMilli()/60000)
	if _, perr := s.restartHook.Do(ctx, provision.Request{ID: id, Kind: provision.KindRestart, Region: h.Region,
		Count: 1, Hosts: []string{host}, Reason: "login service on " + host + " does not answer"}); perr != nil {
		s.logger.Warn("provisioner restart failed", "host", host, "err", perr)
		return
	}
	s.logger.Info("provisioner asked to restart host", "host", host, "id", id)
}

func (b backend) Route(grid string) (api.Route, error) {
	t, err := b.s.login.Route(grid)
	switch {
	case errors.Is(err, login.ErrUnknownGrid):
		return api.Route{}, fmt.Errorf("%w: %w", catalog.ErrNotFound, err)
	case errors.Is(err, login.ErrUnavailable):
		return api.Route{}, fmt.Errorf("%w: %w", errUnavailable, err)
	case err != nil:
		return api.Route{}, err
	}
	return api.Route(t), nil
}
