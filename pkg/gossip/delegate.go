package gossip

// delegate serves memberlist's data callbacks: this node's metadata, and
// check statuses through broadcasts and push-pull state exchange.
type delegate struct{ p *Pool }

func (d delegate) NodeMeta(limit int) []byte {
	b := d.p.localMeta()
	if len(b) > limit {
		// Encode enforces MetaMaxSize, which is memberlist's limit.
		return nil
	}
	return b
}

func (d delegate) NotifyMsg(b []byte) {
	if len(b) == 0 {
		return
	}
	switch b[0] {
	case msgChecks:
		recs, err := decodeChecks(b)
		if err != nil {
			d.p.log.Debug("ignoring check-status message", "err", err)
			return
		}
		d.p.mergeChecks(recs, true)
	case msgLeave:
		m, err := decodeLeave(b)
		if err != nil {
			d.p.log.Debug("ignoring leave intent", "err", err)
			return
		}
		d.p.handleLeaveIntent(m)
	default:
		d.p.log.Debug("ignoring unknown gossip message", "type", b[0])
	}
}

func (d delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.p.queue.GetBroadcasts(overhead, limit)
}

// LocalState sends every node's check statuses known here, so a member that
// joins late, or missed broadcasts, converges at its next push-pull.
func (d delegate) LocalState(join bool) []byte {
	return encodeChecks(d.p.allChecks())
}

func (d delegate) MergeRemoteState(b []byte, join bool) {
	if len(b) == 0 {
		return
	}
	recs, err := decodeChecks(b)
	if err != nil {
		d.p.log.Debug("ignoring push-pull state", "err", err)
		return
	}
	// Push-pull reaches every member in turn; no need to gossip again.
	d.p.mergeChecks(recs, false)
}
