package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/understudy/understudy/coordinator/internal/catalog"
	"github.com/understudy/understudy/coordinator/internal/consensus"
	"github.com/understudy/understudy/coordinator/internal/httpapi"
	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/pkg/gossip"
)

// backend adapts the Server to httpapi.Backend.
type backend struct{ s *Server }

func (b backend) Catalog() *catalog.Catalog { return b.s.catalog }

func (b backend) Apply(ctx context.Context, cmd catalog.Command) error {
	entry, err := catalog.Encode(cmd)
	if err != nil {
		return err
	}
	start := time.Now()
	err = b.s.raft.Apply(ctx, entry)
	b.s.metrics.observeApply(cmd, time.Since(start), err)
	if errors.Is(err, consensus.ErrNotLeader) || errors.Is(err, consensus.ErrNoLeader) ||
		errors.Is(err, consensus.ErrShutdown) {
		return fmt.Errorf("%w: %w", errUnavailable, err)
	}
	return err
}

// errUnavailable marks failures worth retrying elsewhere or later.
var errUnavailable = httpapi.ErrUnavailable

func (b backend) Leader() (bool, string) {
	if b.s.raft.IsLeader() {
		return true, ""
	}
	id, _ := b.s.raft.Leader()
	if id == "" {
		return false, ""
	}
	for _, m := range b.s.pool.Members() {
		if m.Name == id && m.State == gossip.StateAlive {
			return false, m.Meta.HTTPAddr
		}
	}
	return false, ""
}

func (b backend) LeaderID() (string, string) { return b.s.raft.Leader() }

func (b backend) VerifyLeader(ctx context.Context) error { return b.s.raft.VerifyLeader(ctx) }

func (b backend) Peers() ([]api.Peer, error) {
	servers, err := b.s.raft.Servers()
	if err != nil {
		return nil, err
	}
	out := make([]api.Peer, 0, len(servers))
	for _, sv := range servers {
		out = append(out, api.Peer{ID: sv.ID, Address: sv.Address, Voter: sv.Voter, Leader: sv.Leader})
	}
	return out, nil
}

func (b backend) RemovePeer(ctx context.Context, id string) error {
	servers, err := b.s.raft.Servers()
	if err != nil {
		return err
	}
	found := false
	for _, sv := range servers {
		found = found || sv.ID == id
	}
	if !found {
		return fmt.Errorf("no raft peer %q: %w", id, catalog.ErrNotFound)
	}
	return b.s.raft.RemoveServer(ctx, id)
}

func (b backend) Members() []api.Member {
	ms := b.s.pool.Members()
	out := make([]api.Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, api.Member{
			Name: m.Name, Addr: m.Addr, State: m.State.String(), Kind: string(m.Meta.Kind),
			Region: m.Meta.Region, Role: string(m.Meta.Role), Version: m.Meta.Version,
		})
	}
	return out
}
