package gossip

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// State is a member's liveness as this member sees it.
type State uint8

// The member states. memberlist does not tell its delegates when it merely
// suspects a member, so a suspected member is reported as alive until the
// suspicion times out (dead) or is refuted (still alive).
const (
	StateAlive State = iota + 1
	// StateDead: the failure detector declared the member dead.
	StateDead
	// StateLeft: the member announced a graceful leave.
	StateLeft
)

func (s State) String() string {
	switch s {
	case StateAlive:
		return "alive"
	case StateDead:
		return "dead"
	case StateLeft:
		return "left"
	default:
		return "unknown"
	}
}

// Member is one node of the pool.
type Member struct {
	Name string
	// Addr is the member's gossip address, host:port.
	Addr  string
	State State
	// Meta is the member's decoded metadata; zero if it could not be
	// decoded (the failure is logged).
	Meta Meta
}

// memberEntry is a Member plus when its state last changed, for pruning.
type memberEntry struct {
	Member
	changed time.Time
}

// eventDelegate receives memberlist's membership callbacks. memberlist calls
// them with its node lock held, so they must not call back into memberlist.
type eventDelegate struct{ p *Pool }

func (d eventDelegate) NotifyJoin(n *memberlist.Node) {
	d.p.observe(EventJoin, d.p.toMember(n, StateAlive))
}

func (d eventDelegate) NotifyUpdate(n *memberlist.Node) {
	d.p.observe(EventUpdate, d.p.toMember(n, StateAlive))
}

// NotifyLeave cannot tell a leave from a failure (see leave.go); observe
// decides.
func (d eventDelegate) NotifyLeave(n *memberlist.Node) {
	d.p.observe(EventFailed, d.p.toMember(n, StateDead))
}

func (p *Pool) toMember(n *memberlist.Node, s State) Member {
	m := Member{Name: n.Name, Addr: n.Address(), State: s}
	meta, err := DecodeMeta(n.Meta)
	if err != nil {
		p.log.Warn("undecodable node metadata", "node", n.Name, "err", err)
	}
	m.Meta = meta
	return m
}

// CountMembers calls emit with the number of members in every state and of
// every kind, with the state and kind as labels, zeros included, so that
// metrics always carry each series.
func CountMembers(members []Member, emit func(n float64, labels ...string)) {
	type key struct {
		state State
		kind  Kind
	}
	n := map[key]int{}
	for _, mb := range members {
		n[key{mb.State, mb.Meta.Kind}]++
	}
	for _, st := range []State{StateAlive, StateDead, StateLeft} {
		for _, k := range []Kind{KindCoordinator, KindAgent} {
			emit(float64(n[key{st, k}]), st.String(), string(k))
		}
	}
}
