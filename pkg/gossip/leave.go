package gossip

import (
	"fmt"
	"sync"
	"time"
)

// memberlist v0.5.4 tells its event delegate that a node is gone without
// saying whether it left or failed (the state it passes is never set). So,
// like Serf, a leaving member first gossips a leave intent; a member that
// goes away after announcing one is reported as left, any other as failed.
// An intent that arrives after the failure was declared turns it into a
// leave.

// leaveIntent is the user message announcing a graceful leave:
//
//	msgType(1) version(1) str(node) uvarint(life)
//
// life identifies the leaving process (its start time), so a rebroadcast
// of an old intent cannot mark the node's next life as leaving.
const (
	msgLeave     byte = 2
	leaveVersion byte = 1
)

type leaveMsg struct {
	Node string
	Life uint64
}

func encodeLeave(m leaveMsg) []byte {
	buf := []byte{msgLeave, leaveVersion}
	buf = appendString(buf, m.Node)
	return appendUvarint(buf, m.Life)
}

func decodeLeave(b []byte) (leaveMsg, error) {
	if len(b) < 2 || b[0] != msgLeave || b[1] != leaveVersion {
		return leaveMsg{}, errMalformed
	}
	d := decoder{b: b[2:]}
	m := leaveMsg{Node: d.str(maxNodeNameLen)}
	m.Life = d.uvarint()
	if d.err == nil && (m.Node == "" || len(d.b) != 0) {
		d.err = errMalformed
	}
	return m, d.err
}

// leaveBroadcast carries a leave intent and reports when memberlist has
// finished transmitting it.
type leaveBroadcast struct {
	msg  leaveMsg
	raw  []byte
	once *sync.Once
	done chan struct{}
}

func (b leaveBroadcast) Name() string                     { return "leave/" + b.msg.Node }
func (b leaveBroadcast) Invalidates(other broadcast) bool { return invalidatesByName(b, other) }
func (b leaveBroadcast) Message() []byte                  { return b.raw }
func (b leaveBroadcast) Finished() {
	if b.done != nil {
		b.once.Do(func() { close(b.done) })
	}
}

// Leave announces a graceful departure and waits up to timeout (0: no
// limit) for the announcement to be gossiped. Others then report this
// member as [StateLeft]. Call [Pool.Shutdown] afterwards.
func (p *Pool) Leave(timeout time.Duration) error {
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	if p.shutdown {
		return ErrShutdown
	}
	self := p.cfg.NodeName
	p.mu.Lock()
	p.leaving[self] = true
	p.mu.Unlock()

	if p.numAlive() > 1 {
		// Half of the budget for the intent, the rest for memberlist's
		// own leave message.
		var wait <-chan time.Time
		if timeout > 0 {
			t := time.NewTimer(timeout / 2)
			defer t.Stop()
			wait = t.C
		}
		msg := leaveMsg{Node: self, Life: p.life}
		b := leaveBroadcast{msg: msg, raw: encodeLeave(msg), once: new(sync.Once), done: make(chan struct{})}
		p.queue.QueueBroadcast(b)
		select {
		case <-b.done:
		case <-wait:
		}
		if timeout > 0 {
			timeout -= timeout / 2
		}
	}
	if err := p.ml.Leave(timeout); err != nil {
		return fmt.Errorf("gossip: leave: %w", err)
	}
	return nil
}

// handleLeaveIntent records a received intent and re-gossips it the first
// time it is seen.
func (p *Pool) handleLeaveIntent(m leaveMsg) {
	if m.Node == p.cfg.NodeName {
		return
	}
	p.mu.Lock()
	if p.seenLeave[m.Node] == m.Life {
		p.mu.Unlock()
		return
	}
	p.seenLeave[m.Node] = m.Life
	if e, ok := p.members[m.Node]; ok && e.State == StateDead {
		e.State = StateLeft
		p.publishLocked(Event{Type: EventLeave, Member: e.Member})
	} else {
		p.leaving[m.Node] = true
	}
	p.mu.Unlock()
	p.queue.QueueBroadcast(leaveBroadcast{msg: m, raw: encodeLeave(m)})
}
