package dns

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// maxRateLimit is the largest per-source rate limit accepted.
const maxRateLimit = 1_000_000

// maxTTL is the largest TTL a resource record may carry (RFC 2181 §8).
const maxTTL = time.Duration(1<<31-1) * time.Second

// NameServer is one coordinator that serves the zone. It appears as an NS
// record at the apex, with the target <Name>.ns.<zone> and its address as
// glue.
type NameServer struct {
	Name string // a single DNS label, e.g. "coord-1"
	Addr netip.Addr
}

// Config configures a [Handler] and a [Server].
type Config struct {
	// Zone is the zone answered authoritatively, e.g. "understudy.". A
	// missing trailing dot is added; case does not matter.
	Zone string
	// TTL is the TTL of positive answers. Whole seconds; 0 asks resolvers
	// not to cache.
	TTL time.Duration
	// NegativeTTL is the SOA minimum and the TTL of the SOA sent with
	// NXDOMAIN and NODATA answers, so it is how long resolvers cache that a
	// name or record type does not exist (RFC 2308).
	NegativeTTL time.Duration
	// MaxStale is how long this coordinator may be cut off from a Raft
	// leader and still answer; beyond it every in-zone query gets SERVFAIL so
	// that resolvers ask another coordinator. 0 keeps answering forever.
	MaxStale time.Duration
	// Staleness reports how long this coordinator has been without a leader
	// (0 when it has one). It is called once per query, so it must be cheap
	// and safe for concurrent use. Nil means never stale.
	Staleness func() time.Duration
	// NameServers lists the coordinators serving the zone, for the apex NS
	// RRset and the <name>.ns.<zone> names. It is called per query that
	// needs it and must be safe for concurrent use. Nil means none: the apex
	// then has no NS records.
	NameServers func() []NameServer
	// Addr is the UDP and TCP listen address of a [Server], e.g.
	// "127.0.0.1:8600"; port 0 picks a free port shared by both.
	Addr string
	// RateLimit is the number of UDP responses per second allowed to one
	// source network (an IPv4 /24 or an IPv6 /56), with a burst of the same
	// size. 0 turns rate limiting off.
	RateLimit int
	// Observe, when set, is called once per query the handler answers or
	// drops, with the query type ("A", "SRV", ...; "other" for types
	// without a name), the response code ("NOERROR", "NXDOMAIN", ...;
	// "dropped" when the rate limit dropped the query) and the time taken
	// to answer. It runs on the query's goroutine, so it must be cheap and
	// safe for concurrent use. Packets rejected before parsing are not
	// observed.
	Observe func(qtype, rcode string, took time.Duration)
	// Logger receives lifecycle messages. Nil discards them.
	Logger *slog.Logger
}

// DefaultConfig returns the configuration for the default zone
// "understudy." with 5 s positive and negative TTLs, no staleness limit and
// no rate limit, listening on 127.0.0.1:8600.
func DefaultConfig() Config {
	return Config{
		Zone:        "understudy.",
		TTL:         5 * time.Second,
		NegativeTTL: 5 * time.Second,
		Addr:        "127.0.0.1:8600",
	}
}

// Validate reports every problem in c, joined.
func (c Config) Validate() error {
	var errs []error
	zone := strings.TrimSpace(c.Zone)
	switch {
	case zone == "":
		errs = append(errs, errors.New("dns zone is empty"))
	case mdns.Fqdn(zone) == ".":
		errs = append(errs, errors.New("dns zone must not be the root"))
	default:
		if _, ok := mdns.IsDomainName(zone); !ok {
			errs = append(errs, fmt.Errorf("dns zone %q is not a valid domain name", c.Zone))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ttl", c.TTL}, {"negative_ttl", c.NegativeTTL}} {
		if d.v < 0 || d.v > maxTTL {
			errs = append(errs, fmt.Errorf("dns %s %s is out of range (0 to %s)", d.name, d.v, maxTTL))
		}
	}
	if c.MaxStale < 0 {
		errs = append(errs, fmt.Errorf("dns max_stale %s is negative", c.MaxStale))
	}
	if c.RateLimit < 0 || c.RateLimit > maxRateLimit {
		errs = append(errs, fmt.Errorf("dns rate limit %d is out of range (0 to %d responses a second)", c.RateLimit, maxRateLimit))
	}
	return errors.Join(errs...)
}

// validateListen checks the part of the configuration only a [Server]
// needs: an IP literal (or nothing, for every address) and a port.
func (c Config) validateListen() error {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("dns listen address %q: want IP:PORT: %w", c.Addr, err)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("dns listen address %q: host must be an IP address", c.Addr)
		}
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("dns listen address %q: bad port %q", c.Addr, port)
	}
	return nil
}

// ttlSeconds converts a validated TTL to whole seconds.
func ttlSeconds(d time.Duration) uint32 { return uint32(d / time.Second) }
