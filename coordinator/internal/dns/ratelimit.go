package dns

import (
	"hash/maphash"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Rate limiter sizing: a fixed table of buckets, so memory stays bounded
// (48 bytes a bucket, 768 KiB in all) however many sources send queries. A source
// network whose slot is taken by another evicts it; with a random hash
// seed an attacker cannot aim at a victim's slot.
const (
	limiterShards     = 16
	limiterShardSlots = 1024
)

// verdict is what the rate limiter decides for one response.
type verdict uint8

const (
	verdictPass verdict = iota // send the response
	verdictDrop                // send nothing
	verdictSlip                // send an empty response with TC set
)

// limiter is a token bucket per source network (IPv4 /24, IPv6 /56) for UDP
// responses. Over the limit, every second response slips out as an empty
// truncated reply, so a real client behind a spoofed-traffic victim still
// gets an answer by retrying over TCP, and the rest are dropped, so the
// server cannot be used to amplify.
type limiter struct {
	// A bucket holds credit measured in time: each response costs cost,
	// credit accrues with the clock and is capped at burst responses.
	cost  time.Duration
	burst time.Duration
	seed  maphash.Seed
	start time.Time
	// now returns the time since start; tests replace it.
	now func() time.Duration

	shards [limiterShards]limiterShard
}

type limiterShard struct {
	mu    sync.Mutex // guards slots
	slots [limiterShardSlots]bucket
}

type bucket struct {
	key    [17]byte // the masked address, then 4 or 6; all zero when unused
	credit time.Duration
	last   time.Duration
	over   uint32 // responses over the limit since the bucket last had a token
}

func newLimiter(perSecond int) *limiter {
	cost := time.Second / time.Duration(perSecond)
	l := &limiter{cost: cost, burst: cost * time.Duration(perSecond), seed: maphash.MakeSeed(), start: time.Now()}
	l.now = func() time.Duration { return time.Since(l.start) }
	return l
}

// sourceKey returns the key of the network addr belongs to.
func sourceKey(addr net.Addr) ([17]byte, bool) {
	var k [17]byte
	var ip net.IP
	switch a := addr.(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	default:
		return k, false
	}
	na, ok := netip.AddrFromSlice(ip)
	if !ok {
		return k, false
	}
	na = na.Unmap()
	b := na.As16()
	if na.Is4() {
		copy(k[:3], b[12:15]) // /24
		k[16] = 4
	} else {
		copy(k[:7], b[:7]) // /56
		k[16] = 6
	}
	return k, true
}

// allow charges one response to addr's network.
func (l *limiter) allow(addr net.Addr) verdict {
	key, ok := sourceKey(addr)
	if !ok {
		return verdictPass
	}
	hash := maphash.Bytes(l.seed, key[:])
	sh := &l.shards[hash%limiterShards]
	now := l.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := &sh.slots[(hash/limiterShards)%limiterShardSlots]
	if b.key != key {
		*b = bucket{key: key, credit: l.burst, last: now}
	} else {
		b.credit = min(l.burst, b.credit+now-b.last)
		b.last = now
	}
	if b.credit >= l.cost {
		b.credit -= l.cost
		b.over = 0
		return verdictPass
	}
	b.over++
	if b.over%2 == 0 {
		return verdictSlip
	}
	return verdictDrop
}
