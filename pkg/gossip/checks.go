package gossip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/hashicorp/memberlist"
)

// CheckStatus is the outcome of a service's health check.
type CheckStatus uint8

// The check statuses. The zero value is not a valid status.
const (
	CheckPassing CheckStatus = iota + 1
	CheckWarning
	CheckCritical
)

func (s CheckStatus) String() string {
	switch s {
	case CheckPassing:
		return "passing"
	case CheckWarning:
		return "warning"
	case CheckCritical:
		return "critical"
	default:
		return fmt.Sprintf("CheckStatus(%d)", uint8(s))
	}
}

func (s CheckStatus) valid() bool { return s >= CheckPassing && s <= CheckCritical }

// ParseCheckStatus reads "passing", "warning" or "critical".
func ParseCheckStatus(text string) (CheckStatus, error) {
	for s := CheckPassing; s <= CheckCritical; s++ {
		if s.String() == text {
			return s, nil
		}
	}
	return 0, fmt.Errorf("gossip: unknown check status %q", text)
}

// MarshalText implements encoding.TextMarshaler.
func (s CheckStatus) MarshalText() ([]byte, error) {
	if !s.valid() {
		return nil, fmt.Errorf("gossip: invalid check status %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *CheckStatus) UnmarshalText(text []byte) error {
	v, err := ParseCheckStatus(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// NodeChecks is one node's latest check statuses, by service name.
type NodeChecks struct {
	// Seq increases with every change the node makes. It starts from the
	// node's wall clock (nanoseconds) when its [Pool] is created, so a
	// restarted node outranks its previous life.
	Seq    uint64
	Checks map[string]CheckStatus
}

func (nc NodeChecks) clone() NodeChecks {
	return NodeChecks{Seq: nc.Seq, Checks: maps.Clone(nc.Checks)}
}

// MaxChecksSize is the largest encoded check-status message for one node.
// It keeps the message within one gossip packet even with a long label and
// encryption.
const MaxChecksSize = 1024

// maxCheckNameLen bounds a service name in a check-status message.
const maxCheckNameLen = 128

// ErrChecksTooLarge is returned by [Pool.SetChecks] when the statuses do not
// fit in [MaxChecksSize] bytes.
var ErrChecksTooLarge = errors.New("gossip: check statuses too large")

// SetChecks replaces this node's check statuses, service name → status, and
// gossips them if they changed. Every change raises the node's sequence
// number. It returns an error for an empty or over-long service name, an
// invalid status, or statuses that together exceed [MaxChecksSize].
func (p *Pool) SetChecks(checks map[string]CheckStatus) error {
	if p.isShutdown() {
		return ErrShutdown
	}
	var errs []error
	for name, s := range checks {
		if name == "" || len(name) > maxCheckNameLen {
			errs = append(errs, fmt.Errorf("gossip: check name %q must be 1 to %d bytes", name, maxCheckNameLen))
		}
		if !s.valid() {
			errs = append(errs, fmt.Errorf("gossip: check %q: invalid status %d", name, uint8(s)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	if checks == nil {
		checks = map[string]CheckStatus{}
	}
	p.checksMu.Lock()
	if p.localChecks.Checks != nil && maps.Equal(p.localChecks.Checks, checks) {
		p.checksMu.Unlock()
		return nil
	}
	next := NodeChecks{Seq: p.localChecks.Seq + 1, Checks: maps.Clone(checks)}
	rec := checksRecord{Node: p.cfg.NodeName, NodeChecks: next}
	msg := encodeChecks([]checksRecord{rec})
	if len(msg) > MaxChecksSize {
		p.checksMu.Unlock()
		return fmt.Errorf("%w: %d bytes, limit %d", ErrChecksTooLarge, len(msg), MaxChecksSize)
	}
	p.localChecks = next
	p.checks[p.cfg.NodeName] = next.clone()
	p.queue.QueueBroadcast(checksBroadcast{node: p.cfg.NodeName, msg: msg})
	p.checksMu.Unlock()

	p.publishChecks(p.cfg.NodeName, next)
	return nil
}

// Checks returns the latest check statuses of every node that has gossiped
// any, this one included, by node name. Statuses of a node that failed or
// left are its last ones; combine with [Pool.Members].
func (p *Pool) Checks() map[string]NodeChecks {
	p.checksMu.Lock()
	defer p.checksMu.Unlock()
	out := make(map[string]NodeChecks, len(p.checks))
	for name, nc := range p.checks {
		out[name] = nc.clone()
	}
	return out
}

// mergeChecks applies received records, keeps those newer than what is
// known, re-gossips them if rebroadcast is set, and publishes the changes.
func (p *Pool) mergeChecks(recs []checksRecord, rebroadcast bool) {
	var changed []checksRecord
	p.checksMu.Lock()
	for _, r := range recs {
		if r.Node == p.cfg.NodeName {
			// Others remember a later sequence number than ours (a clock
			// that went back across a restart): jump past it and gossip
			// our own statuses again.
			if r.Seq > p.localChecks.Seq {
				p.localChecks.Seq = r.Seq + 1
				own := checksRecord{Node: p.cfg.NodeName, NodeChecks: p.localChecks.clone()}
				p.checks[p.cfg.NodeName] = own.NodeChecks.clone()
				p.queue.QueueBroadcast(checksBroadcast{node: own.Node, msg: encodeChecks([]checksRecord{own})})
			}
			continue
		}
		if old, ok := p.checks[r.Node]; ok && old.Seq >= r.Seq {
			continue
		}
		p.checks[r.Node] = r.NodeChecks.clone()
		changed = append(changed, r)
		if rebroadcast {
			p.queue.QueueBroadcast(checksBroadcast{node: r.Node, msg: encodeChecks([]checksRecord{r})})
		}
	}
	p.checksMu.Unlock()
	for _, r := range changed {
		p.publishChecks(r.Node, r.NodeChecks)
	}
}

func (p *Pool) publishChecks(node string, nc NodeChecks) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := Member{Name: node}
	if e, ok := p.members[node]; ok {
		m = e.Member
	}
	for s := range p.subs {
		s.push(Event{Type: EventChecks, Member: m, Checks: nc.clone()})
	}
}

func (p *Pool) forgetChecks(nodes []string) {
	if len(nodes) == 0 {
		return
	}
	p.checksMu.Lock()
	defer p.checksMu.Unlock()
	for _, n := range nodes {
		delete(p.checks, n)
	}
}

// allChecks returns every known record for push-pull.
func (p *Pool) allChecks() []checksRecord {
	p.checksMu.Lock()
	defer p.checksMu.Unlock()
	recs := make([]checksRecord, 0, len(p.checks))
	for name, nc := range p.checks {
		recs = append(recs, checksRecord{Node: name, NodeChecks: nc})
	}
	return recs
}

// checksBroadcast is one node's statuses queued for gossip; a newer one for
// the same node replaces it in the queue.
type checksBroadcast struct {
	node string
	msg  []byte
}

func (b checksBroadcast) Name() string { return "checks/" + b.node }

func (b checksBroadcast) Invalidates(other broadcast) bool { return invalidatesByName(b, other) }

type broadcast = memberlist.Broadcast

// invalidatesByName reports whether other is queued under b's name: a
// newer message about a node replaces an older one of the same kind.
func invalidatesByName(b memberlist.NamedBroadcast, other broadcast) bool {
	o, ok := other.(memberlist.NamedBroadcast)
	return ok && o.Name() == b.Name()
}

func (b checksBroadcast) Message() []byte { return b.msg }

func (b checksBroadcast) Finished() {}

// User message layout, shared by broadcasts and push-pull state:
//
//	msgType(1) version(1) uvarint(records) records...
//	record: str(node) uvarint(seq) uvarint(n) n × (str(service) status(1))
//	str:    uvarint(len) bytes
const (
	msgChecks     byte = 1
	checksVersion byte = 1
)

type checksRecord struct {
	Node string
	NodeChecks
}

func encodeChecks(recs []checksRecord) []byte {
	buf := []byte{msgChecks, checksVersion}
	buf = binary.AppendUvarint(buf, uint64(len(recs)))
	for _, r := range recs {
		buf = appendString(buf, r.Node)
		buf = binary.AppendUvarint(buf, r.Seq)
		buf = binary.AppendUvarint(buf, uint64(len(r.Checks)))
		// Sorted for a deterministic encoding.
		names := make([]string, 0, len(r.Checks))
		for name := range r.Checks {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			buf = appendString(buf, name)
			buf = append(buf, byte(r.Checks[name]))
		}
	}
	return buf
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func appendUvarint(buf []byte, v uint64) []byte { return binary.AppendUvarint(buf, v) }

var errMalformed = errors.New("gossip: malformed message")

// decodeChecks parses a message written by encodeChecks. Counts and lengths
// are checked against the bytes left, so a hostile message cannot make it
// allocate more than its own size.
func decodeChecks(b []byte) ([]checksRecord, error) {
	if len(b) < 2 || b[0] != msgChecks {
		return nil, errMalformed
	}
	if b[1] != checksVersion {
		return nil, fmt.Errorf("%w: version %d", errMalformed, b[1])
	}
	d := decoder{b: b[2:]}
	n := d.count(3)
	recs := make([]checksRecord, 0, n)
	for range n {
		var r checksRecord
		r.Node = d.str(maxNodeNameLen)
		r.Seq = d.uvarint()
		m := d.count(2)
		r.Checks = make(map[string]CheckStatus, m)
		for range m {
			name := d.str(maxCheckNameLen)
			s := CheckStatus(d.byte())
			if d.err == nil && (!s.valid() || name == "") {
				d.err = errMalformed
			}
			r.Checks[name] = s
		}
		if d.err == nil && r.Node == "" {
			d.err = errMalformed
		}
		if d.err != nil {
			return nil, d.err
		}
		recs = append(recs, r)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errMalformed
	}
	if d.err != nil {
		return nil, d.err
	}
	return recs, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errMalformed
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads an element count, each element taking at least minSize bytes.
func (d *decoder) count(minSize int) int {
	v := d.uvarint()
	if d.err == nil && v > uint64(len(d.b)/minSize) {
		d.err = errMalformed
		return 0
	}
	return int(v)
}

func (d *decoder) str(maxLen int) string {
	l := d.uvarint()
	if d.err != nil {
		return ""
	}
	if l > uint64(maxLen) || l > uint64(len(d.b)) {
		d.err = errMalformed
		return ""
	}
	s := string(d.b[:l])
	d.b = d.b[l:]
	return s
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = errMalformed
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}
