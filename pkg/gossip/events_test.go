package gossip

import (
	"testing"
)

func TestSubscriptionCoalescesPerNode(t *testing.T) {
	t.Parallel()
	s := newSubscription(nil)
	defer s.Close()
	// Fill the channel buffer, plus one event the forwarder holds while it
	// waits to send, so that later events wait in the queue.
	const fillers = eventBuffer + 1
	for i := range fillers {
		s.push(Event{Type: EventJoin, Member: Member{Name: "filler-" + string(rune('A'+i))}})
	}
	waitFor(t, "the buffer fills", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.C()) == eventBuffer && len(s.order) == 0
	})

	s.push(Event{Type: EventJoin, Member: Member{Name: "a", Meta: Meta{Version: "1"}}})
	s.push(Event{Type: EventJoin, Member: Member{Name: "b"}})
	s.push(Event{Type: EventUpdate, Member: Member{Name: "a", Meta: Meta{Version: "2"}}})
	s.push(Event{Type: EventChecks, Member: Member{Name: "b"}, Checks: NodeChecks{Seq: 1}})
	s.push(Event{Type: EventFailed, Member: Member{Name: "b", State: StateDead}})
	s.push(Event{Type: EventChecks, Member: Member{Name: "b"}, Checks: NodeChecks{Seq: 2}})

	for range fillers {
		<-s.C()
	}
	want := []Event{
		{Type: EventJoin, Member: Member{Name: "a", Meta: Meta{Version: "2"}}},
		{Type: EventFailed, Member: Member{Name: "b", State: StateDead}},
		{Type: EventChecks, Member: Member{Name: "b"}, Checks: NodeChecks{Seq: 2}},
	}
	for i, w := range want {
		got := <-s.C()
		if got.Type != w.Type || got.Member != w.Member || got.Checks.Seq != w.Checks.Seq {
			t.Errorf("event %d = %+v, want %+v", i, got, w)
		}
	}
	if got := s.Coalesced(); got != 3 {
		t.Errorf("Coalesced() = %d, want 3", got)
	}
	select {
	case ev := <-s.C():
		t.Errorf("unexpected extra event %+v", ev)
	default:
	}
}

func TestSubscriptionClose(t *testing.T) {
	t.Parallel()
	s := newSubscription(nil)
	s.push(Event{Type: EventJoin, Member: Member{Name: "a"}})
	s.Close()
	s.Close()
	for range s.C() {
	}
	s.push(Event{Type: EventJoin, Member: Member{Name: "b"}}) // must not block or panic
}
