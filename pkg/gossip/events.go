package gossip

import (
	"sync"
	"sync/atomic"
)

// EventType says what happened to a member.
type EventType uint8

// The events a [Subscription] delivers.
const (
	// EventJoin: a member appeared, or came back after failing or leaving.
	EventJoin EventType = iota + 1
	// EventUpdate: an alive member changed its [Meta].
	EventUpdate
	// EventLeave: a member left gracefully ([Pool.Leave]).
	EventLeave
	// EventFailed: the failure detector declared a member dead.
	EventFailed
	// EventChecks: a member's check statuses changed; see [Event.Checks].
	EventChecks
)

func (t EventType) String() string {
	switch t {
	case EventJoin:
		return "join"
	case EventUpdate:
		return "update"
	case EventLeave:
		return "leave"
	case EventFailed:
		return "failed"
	case EventChecks:
		return "checks"
	default:
		return "unknown"
	}
}

// Event is one change in the pool as seen by this member.
type Event struct {
	Type EventType
	// Member is the member's state right after the change. For
	// [EventChecks] it is this member's current view of the node, which has
	// only a Name if the node's membership has not been seen yet.
	Member Member
	// Checks is set for [EventChecks] only.
	Checks NodeChecks
}

// eventBuffer is the channel capacity of a subscription; the coalescing
// queue behind it absorbs the rest.
const eventBuffer = 64

// A Subscription delivers the pool's events on a channel. Delivery never
// blocks memberlist: events wait in a queue that holds at most one pending
// membership event and one pending checks event per node. When a consumer
// falls behind, a newer event for a node replaces the pending one (an update
// to a node whose join is still pending stays a join), so the consumer always
// receives each node's latest state, but may miss intermediate ones.
// [Subscription.Coalesced] counts the replaced events.
type Subscription struct {
	out    chan Event
	signal chan struct{}
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	remove func(*Subscription)

	coalesced atomic.Uint64

	mu      sync.Mutex // guards order and pending
	order   []eventKey
	pending map[eventKey]Event
}

type eventKey struct {
	node   string
	checks bool
}

func newSubscription(remove func(*Subscription)) *Subscription {
	s := &Subscription{
		out:     make(chan Event, eventBuffer),
		signal:  make(chan struct{}, 1),
		done:    make(chan struct{}),
		remove:  remove,
		pending: make(map[eventKey]Event),
	}
	s.wg.Add(1)
	go s.forward()
	return s
}

// C returns the channel events arrive on. It is closed by
// [Subscription.Close] and by [Pool.Shutdown].
func (s *Subscription) C() <-chan Event { return s.out }

// Coalesced returns how many events were replaced by a newer event for the
// same node before the consumer received them.
func (s *Subscription) Coalesced() uint64 { return s.coalesced.Load() }

// Close stops delivery and closes [Subscription.C]. It is idempotent.
func (s *Subscription) Close() {
	s.once.Do(func() {
		close(s.done)
		if s.remove != nil {
			s.remove(s)
		}
	})
	s.wg.Wait()
}

// push queues ev without blocking.
func (s *Subscription) push(ev Event) {
	k := eventKey{node: ev.Member.Name, checks: ev.Type == EventChecks}
	s.mu.Lock()
	if old, ok := s.pending[k]; ok {
		if old.Type == EventJoin && ev.Type == EventUpdate {
			ev.Type = EventJoin
		}
		s.pending[k] = ev
		s.coalesced.Add(1)
	} else {
		s.pending[k] = ev
		s.order = append(s.order, k)
	}
	s.mu.Unlock()
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

func (s *Subscription) pop() (Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.order) == 0 {
		return Event{}, false
	}
	k := s.order[0]
	s.order = s.order[1:]
	ev := s.pending[k]
	delete(s.pending, k)
	return ev, true
}

func (s *Subscription) forward() {
	defer s.wg.Done()
	defer close(s.out)
	for {
		ev, ok := s.pop()
		if !ok {
			select {
			case <-s.signal:
				continue
			case <-s.done:
				return
			}
		}
		select {
		case s.out <- ev:
		case <-s.done:
			return
		}
	}
}
