// Package gossip is Understudy's membership layer: the one pool that agents
// and coordinators share, its failure detection, each member's typed
// metadata, and the health-check statuses agents publish.
//
// It is the only package that imports github.com/hashicorp/memberlist; it
// imports nothing of Understudy's own. Gossip informs and Raft decides: this
// package reports what the pool observed ([Pool.Members], [Pool.Events],
// [Pool.Checks]) and the coordinator's leader turns that into catalogue
// entries.
//
// # Use
//
//	cfg := gossip.DefaultConfig()
//	cfg.NodeName = "host-a"
//	cfg.Key, _ = gossip.ParseKey(encrypt)
//	cfg.Meta = gossip.Meta{Kind: gossip.KindAgent, HostID: "host-a", Region: "eu-west", Role: gossip.RoleActive}
//	p, err := gossip.New(cfg)
//	...
//	n, err := p.Join(ctx, []string{"10.0.0.11", "10.0.0.12:8301"})
//	defer p.Shutdown()
//	defer p.Leave(5 * time.Second)
//	for ev := range p.Events() { ... }
//
// # Membership and events
//
// [Pool.Members] lists alive members and, for [Config.DeadRetention], those
// that failed ([StateDead]) or left gracefully ([StateLeft]), so a consumer
// can tell a crash from a drain. memberlist does not report suspicion to
// its delegates, so a suspected member stays [StateAlive] until it is
// declared dead.
//
// memberlist v0.5.4 reports a node that went away without saying whether it
// left or failed, so [Pool.Leave] first gossips a leave intent (as Serf
// does) and only then memberlist's own leave. A node that goes away after
// announcing an intent is reported as left; if the intent arrives after the
// failure detector already declared the node dead, the failure is turned
// into a leave with a second event ([EventLeave] after [EventFailed]).
//
// Events never block memberlist. Each [Subscription] queues at most one
// pending membership event and one pending checks event per node; a slow
// consumer gets each node's latest state, with intermediate events
// coalesced and counted ([Subscription.Coalesced]). Consumers that need a
// full picture read [Pool.Members] and [Pool.Checks] after subscribing and
// apply events on top.
//
// # Metadata
//
// [Meta] is encoded as one version byte ([MetaVersion]) followed by JSON
// with short field names. It must fit memberlist's 512-byte limit
// ([MetaMaxSize]); unknown JSON fields are ignored on decode so newer
// members may add fields. It is for slowly changing facts.
//
// # Check statuses
//
// Check statuses change often and would not fit in the metadata for twenty
// services, so they travel as memberlist user messages: each change raises
// the node's sequence number and is broadcast through the pool's own
// transmit-limited queue, where a newer message for the same node replaces
// an older one (memberlist's TransmitLimitedQueue can evict a queued
// message when another of the same length arrives; see queue.go). Every
// member that learns a newer status re-broadcasts it (epidemic spread, like
// memberlist's own alive messages), and push-pull exchanges carry all known
// statuses, so a late joiner converges on its first exchange. Messages start with a type byte and a version byte; a
// single node's message is limited to [MaxChecksSize] so it fits one UDP
// packet.
//
// # Encryption and labels
//
// With [Config.Key] set, memberlist encrypts and authenticates every packet
// and stream (AES-GCM) and drops anything else: a member with another key,
// or none, cannot join. [Config.Label] keeps separate clusters on one
// network apart; it is not a secret.
//
// # Failure detection profiles
//
// [ProfileLAN] is memberlist's DefaultLANConfig: probes every 1 s with a
// 500 ms timeout, suspicion lasting 4 × log10(n) probe intervals (at least
// 4 s) and up to six times that without confirmations. A dead member is
// declared dead in about 5–10 s; a member that stalls for a few seconds
// (CPU starvation, a GC pause, heavy packet loss) refutes the suspicion in
// time and is not declared dead.
//
// [ProfileFast] probes every 200 ms with a 100 ms timeout, gossips every
// 100 ms to 4 members and keeps the suspicion multiplier at 4 but caps the
// confirmation-less maximum at 3×. Below ten members a suspect is declared
// dead 0.8 s after suspicion; with more members the timeout starts at up to
// 2.4 s × log10(n) and shrinks as other members confirm. A dead member is
// declared dead in about 1–2 s. Lifeguard stays on: local health awareness
// stretches the probe interval of a member that is itself struggling, and
// a suspected member refutes by gossiping a higher incarnation. The price:
// five times the probe traffic, and a member that cannot answer or refute
// within about a second (a stall of ~1 s, or sustained heavy loss) is
// declared dead and must rejoin, which the promotion logic has to absorb
// with its grace period. Use fast only on a LAN with reserved CPU for the
// agent.
//
// Not guaranteed: that every member sees every intermediate state, that
// check statuses of a failed member are current (they are its last ones),
// or that a member behind a partition is seen the same way by everyone.
package gossip
