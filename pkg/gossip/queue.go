package gossip

import (
	"cmp"
	"math"
	"slices"
	"sync"

	"github.com/hashicorp/memberlist"
)

// broadcastQueue holds the gossip messages this node sends (check statuses
// and leave intents, its own and those it passes on) until each has gone
// out retransmitLimit times. A message
// replaces a queued one of the same name: only the newest statuses of a
// node are worth sending.
//
// It takes the place of memberlist.TransmitLimitedQueue, which orders its
// items by (transmits, length, id) and resets its id counter whenever it
// empties, even for a moment while a message replaces another: the next
// two messages of equal length can then get equal keys, and the second
// silently evicts the first. A check status lost that way stays lost until
// the next push-pull, 15 s or more later. The queue holds a few messages
// per member at most, so a plain slice, sorted for each packet, is enough.
type broadcastQueue struct {
	numNodes func() int
	mult     int

	mu    sync.Mutex
	items []*queued
	seq   uint64 // increases with every message queued
}

type queued struct {
	b         memberlist.NamedBroadcast
	name      string
	transmits int
	seq       uint64
}

func newBroadcastQueue(numNodes func() int, retransmitMult int) *broadcastQueue {
	return &broadcastQueue{numNodes: numNodes, mult: retransmitMult}
}

// QueueBroadcast queues b, replacing (and finishing) a queued message of
// the same name.
func (q *broadcastQueue) QueueBroadcast(b memberlist.NamedBroadcast) {
	name := b.Name()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	for i, it := range q.items {
		if it.name == name {
			it.b.Finished()
			q.items[i] = &queued{b: b, name: name, seq: q.seq}
			return
		}
	}
	q.items = append(q.items, &queued{b: b, name: name, seq: q.seq})
}

// GetBroadcasts returns messages that fit in limit bytes, each costing
// overhead bytes more than its length: those sent the fewest times first,
// the newest first among equals. A message sent retransmitLimit times
// leaves the queue and is finished.
func (q *broadcastQueue) GetBroadcasts(overhead, limit int) [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return nil
	}
	transmitLimit := retransmitLimit(q.mult, q.numNodes())
	order := slices.Clone(q.items)
	slices.SortFunc(order, func(a, b *queued) int {
		if c := cmp.Compare(a.transmits, b.transmits); c != 0 {
			return c
		}
		return cmp.Compare(b.seq, a.seq)
	})
	var out [][]byte
	used := 0
	for _, it := range order {
		msg := it.b.Message()
		if used+overhead+len(msg) > limit {
			continue // a smaller one further on may still fit
		}
		used += overhead + len(msg)
		out = append(out, msg)
		it.transmits++
	}
	kept := q.items[:0]
	for _, it := range q.items {
		if it.transmits >= transmitLimit {
			it.b.Finished()
			continue
		}
		kept = append(kept, it)
	}
	clear(q.items[len(kept):])
	q.items = kept
	return out
}

// NumQueued returns the number of queued messages.
func (q *broadcastQueue) NumQueued() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// retransmitLimit is memberlist's: mult × ⌈log10(n+1)⌉ transmissions, and
// at least one.
func retransmitLimit(mult, n int) int {
	return max(1, mult*int(math.Ceil(math.Log10(float64(n+1)))))
}
