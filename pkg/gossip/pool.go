package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrShutdown is returned by operations on a [Pool] after [Pool.Shutdown].
var ErrShutdown = errors.New("gossip: pool is shut down")

// updateTimeout bounds how long [Pool.UpdateMeta] waits for memberlist to
// finish gossiping the change.
const updateTimeout = 5 * time.Second

// Pool is this process's membership of the Understudy gossip pool.
type Pool struct {
	cfg       Config
	log       *slog.Logger
	retention time.Duration
	ml        *memberlist.Memberlist
	queue     *broadcastQueue
	events    *Subscription

	lifeMu   sync.Mutex // serialises Leave and Shutdown; guards shutdown
	shutdown bool

	metaMu sync.Mutex // guards meta
	meta   []byte     // encoded local Meta served to memberlist

	// life identifies this process in leave intents and seeds the check
	// sequence: the wall clock at New, in nanoseconds.
	life uint64

	mu        sync.Mutex // guards members, leaving, seenLeave, subs, closed
	members   map[string]*memberEntry
	leaving   map[string]bool   // nodes that announced a leave
	seenLeave map[string]uint64 // node → life of the last leave intent seen
	subs      map[*Subscription]struct{}
	closed    bool

	checksMu    sync.Mutex // guards checks and localChecks
	checks      map[string]NodeChecks
	localChecks NodeChecks
}

// New validates cfg, creates the memberlist and starts listening. The pool
// holds only this member until [Pool.Join].
func New(cfg Config) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	meta, err := cfg.Meta.Encode()
	if err != nil {
		return nil, err
	}
	life := uint64(time.Now().UnixNano())
	p := &Pool{
		cfg:       cfg,
		log:       cfg.Logger,
		retention: cfg.DeadRetention,
		meta:      meta,
		life:      life,
		members:   make(map[string]*memberEntry),
		leaving:   make(map[string]bool),
		seenLeave: make(map[string]uint64),
		subs:      make(map[*Subscription]struct{}),
		checks:    make(map[string]NodeChecks),
		// Sequence numbers start from the wall clock so that a restarted
		// agent's new statuses outrank those of its previous life.
		localChecks: NodeChecks{Seq: life},
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.retention == 0 {
		p.retention = DefaultDeadRetention
	}
	mc := cfg.memberlistConfig()
	mc.Logger = newMemberlistLogger(p.log)
	mc.Events = eventDelegate{p}
	mc.Delegate = delegate{p}
	if cfg.OnProbe != nil {
		mc.Ping = pingDelegate{cfg.OnProbe}
	}
	p.queue = newBroadcastQueue(p.numAlive, mc.RetransmitMult)
	p.events = p.Subscribe()
	ml, err := memberlist.Create(mc)
	if err != nil {
		p.closeSubscriptions()
		return nil, fmt.Errorf("gossip: start memberlist on %s: %w",
			net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.BindPort)), err)
	}
	p.ml = ml
	return p, nil
}

// Addr returns the host:port other members reach this one on: the advertised
// address and the port actually bound.
func (p *Pool) Addr() string {
	return p.LocalNode().Addr
}

// Join contacts the given members ("host:port", or "host" for
// [DefaultPort]) one after another and merges their view of the pool. It
// returns how many it reached; the error is non-nil only if none was
// reached. ctx is checked between addresses; each attempt is bounded by the
// profile's TCP timeout.
func (p *Pool) Join(ctx context.Context, addrs []string) (int, error) {
	if p.isShutdown() {
		return 0, ErrShutdown
	}
	if len(addrs) == 0 {
		return 0, errors.New("gossip: join: no addresses")
	}
	var errs []error
	joined := 0
	for _, a := range addrs {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		addr := withDefaultPort(a)
		n, err := p.ml.Join([]string{addr})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			continue
		}
		joined += n
	}
	if joined == 0 {
		return 0, fmt.Errorf("gossip: join: %w", errors.Join(errs...))
	}
	if len(errs) > 0 {
		p.log.Debug("some join addresses unreachable", "joined", joined, "err", errors.Join(errs...))
	}
	return joined, nil
}

// withDefaultPort adds [DefaultPort] to an address without a port.
func withDefaultPort(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	host := strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	return net.JoinHostPort(host, strconv.Itoa(DefaultPort))
}

// Members returns every member this node knows, sorted by name, including
// itself and members that failed or left within [Config.DeadRetention], so
// that callers can tell a failure from a graceful leave.
func (p *Pool) Members() []Member {
	p.mu.Lock()
	gone := p.pruneLocked(time.Now())
	out := make([]Member, 0, len(p.members))
	for _, e := range p.members {
		out = append(out, e.Member)
	}
	p.mu.Unlock()
	p.forgetChecks(gone)
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// NumMembers returns how many members, this one included, are alive.
func (p *Pool) NumMembers() int {
	return p.numAlive()
}

func (p *Pool) numAlive() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, e := range p.members {
		if e.State == StateAlive {
			n++
		}
	}
	return n
}

// LocalNode returns this member as the pool sees it.
func (p *Pool) LocalNode() Member {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.members[p.cfg.NodeName]; ok {
		return e.Member
	}
	return Member{Name: p.cfg.NodeName, Meta: p.cfg.Meta}
}

// Events returns the channel of the pool's built-in subscription (see
// [Subscription] for the delivery guarantees). It is closed by
// [Pool.Shutdown]. Use [Pool.Subscribe] for more consumers.
func (p *Pool) Events() <-chan Event {
	return p.events.C()
}

// Subscribe returns a new, independent stream of events from now on. Read
// [Pool.Members] and [Pool.Checks] after subscribing for the state so far.
// Close the subscription when done; [Pool.Shutdown] closes all of them.
func (p *Pool) Subscribe() *Subscription {
	s := newSubscription(p.unsubscribe)
	p.mu.Lock()
	closed := p.closed
	if !closed {
		p.subs[s] = struct{}{}
	}
	p.mu.Unlock()
	if closed {
		s.Close()
	}
	return s
}

func (p *Pool) unsubscribe(s *Subscription) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.subs, s)
}

// UpdateMeta replaces this member's metadata and gossips it. When it returns
// an error other than a validation error, the new metadata is already in
// effect locally and spreads with the next push-pull.
func (p *Pool) UpdateMeta(m Meta) error {
	if p.isShutdown() {
		return ErrShutdown
	}
	b, err := m.Encode()
	if err != nil {
		return err
	}
	p.metaMu.Lock()
	p.meta = b
	p.metaMu.Unlock()
	if err := p.ml.UpdateNode(updateTimeout); err != nil {
		return fmt.Errorf("gossip: update meta: %w", err)
	}
	return nil
}

func (p *Pool) localMeta() []byte {
	p.metaMu.Lock()
	defer p.metaMu.Unlock()
	return p.meta
}

// Shutdown stops gossiping and closes every subscription. Without a prior
// [Pool.Leave], others see this member fail. It is idempotent.
func (p *Pool) Shutdown() error {
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	if p.shutdown {
		return nil
	}
	p.shutdown = true
	err := p.ml.Shutdown()
	p.closeSubscriptions()
	if err != nil {
		return fmt.Errorf("gossip: shutdown: %w", err)
	}
	return nil
}

func (p *Pool) isShutdown() bool {
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	return p.shutdown
}

func (p *Pool) closeSubscriptions() {
	p.mu.Lock()
	p.closed = true
	subs := make([]*Subscription, 0, len(p.subs))
	for s := range p.subs {
		subs = append(subs, s)
	}
	p.mu.Unlock()
	for _, s := range subs {
		s.Close()
	}
}

// observe records a membership change and publishes it. A node going away
// (EventFailed) is reported as having left if it announced a leave.
func (p *Pool) observe(t EventType, m Member) {
	now := time.Now()
	p.mu.Lock()
	switch t {
	case EventJoin:
		delete(p.leaving, m.Name)
	case EventFailed:
		if p.leaving[m.Name] {
			t, m.State = EventLeave, StateLeft
			delete(p.leaving, m.Name)
		}
	}
	p.members[m.Name] = &memberEntry{Member: m, changed: now}
	gone := p.pruneLocked(now)
	p.publishLocked(Event{Type: t, Member: m})
	p.mu.Unlock()
	p.forgetChecks(gone)
}

func (p *Pool) publishLocked(ev Event) {
	for s := range p.subs {
		s.push(ev)
	}
}

// pruneLocked forgets members that failed or left more than the retention
// period ago and returns their names, whose check statuses the caller must
// forget after releasing p.mu (the lock order is checksMu before mu).
func (p *Pool) pruneLocked(now time.Time) []string {
	var gone []string
	for name, e := range p.members {
		if e.State != StateAlive && now.Sub(e.changed) > p.retention {
			delete(p.members, name)
			delete(p.seenLeave, name)
			gone = append(gone, name)
		}
	}
	return gone
}
