package gossip

import (
	"slices"
	"testing"
)

// testBroadcast is a named message that records whether it was finished.
type testBroadcast struct {
	name, msg string
	finished  *bool
}

func (b testBroadcast) Name() string                     { return b.name }
func (b testBroadcast) Invalidates(other broadcast) bool { return invalidatesByName(b, other) }
func (b testBroadcast) Message() []byte                  { return []byte(b.msg) }
func (b testBroadcast) Finished() {
	if b.finished != nil {
		*b.finished = true
	}
}

func sent(msgs [][]byte) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, string(m))
	}
	slices.Sort(out)
	return out
}

// A status that replaces one already sent, followed by another node's
// status of the same length, must not evict it. (memberlist's queue
// reset its id counter while the replaced message was out of the queue
// and gave both messages the same key.)
func TestBroadcastQueueReplacementIsNotEvicted(t *testing.T) {
	q := newBroadcastQueue(func() int { return 5 }, 4) // 4 transmissions each
	var oldDone bool
	q.QueueBroadcast(testBroadcast{name: "checks/host-b", msg: "b:crit", finished: &oldDone})
	if got := sent(q.GetBroadcasts(2, 1400)); !slices.Equal(got, []string{"b:crit"}) {
		t.Fatalf("first round sent %q", got)
	}
	q.QueueBroadcast(testBroadcast{name: "checks/host-b", msg: "b:pass"})
	if !oldDone {
		t.Error("the replaced message was not finished")
	}
	q.QueueBroadcast(testBroadcast{name: "checks/host-a", msg: "a:crit"})
	if n := q.NumQueued(); n != 2 {
		t.Fatalf("%d messages queued, want 2", n)
	}
	for round := range 4 {
		if got := sent(q.GetBroadcasts(2, 1400)); !slices.Equal(got, []string{"a:crit", "b:pass"}) {
			t.Fatalf("round %d sent %q, want both statuses", round, got)
		}
	}
	if n := q.NumQueued(); n != 0 {
		t.Errorf("%d messages still queued after 4 transmissions each", n)
	}
}

func TestBroadcastQueueOrderAndLimits(t *testing.T) {
	nodes := 5
	q := newBroadcastQueue(func() int { return nodes }, 2) // 2 transmissions
	var done [3]bool
	q.QueueBroadcast(testBroadcast{name: "x", msg: "xxxx", finished: &done[0]})
	q.QueueBroadcast(testBroadcast{name: "y", msg: "yyyy", finished: &done[1]})
	// Room for one message only (overhead 2 + 4 bytes): the newest goes first.
	if got := sent(q.GetBroadcasts(2, 6)); !slices.Equal(got, []string{"yyyy"}) {
		t.Fatalf("got %q, want the newest message", got)
	}
	// Then the one sent fewer times.
	if got := sent(q.GetBroadcasts(2, 6)); !slices.Equal(got, []string{"xxxx"}) {
		t.Fatalf("got %q, want the message not yet sent", got)
	}
	// Too small for anything: nothing is sent and nothing counted.
	if got := q.GetBroadcasts(2, 5); len(got) != 0 {
		t.Fatalf("got %q from a 5-byte budget", got)
	}
	q.QueueBroadcast(testBroadcast{name: "z", msg: "zz", finished: &done[2]})
	if got := sent(q.GetBroadcasts(2, 100)); !slices.Equal(got, []string{"xxxx", "yyyy", "zz"}) {
		t.Fatalf("got %q, want all three", got)
	}
	if !done[0] || !done[1] || done[2] {
		t.Errorf("finished %v, want x and y after two transmissions, z not yet", done)
	}
	if n := q.NumQueued(); n != 1 {
		t.Errorf("%d queued, want z alone", n)
	}
	// A pool of one still sends a message once.
	nodes = 0
	if got := sent(q.GetBroadcasts(2, 100)); !slices.Equal(got, []string{"zz"}) || !done[2] || q.NumQueued() != 0 {
		t.Errorf("alone: sent %q, finished %v, %d queued", got, done[2], q.NumQueued())
	}
}
