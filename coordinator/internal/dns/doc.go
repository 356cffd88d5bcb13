// Package dns answers authoritative DNS for the Understudy zone (by default
// "understudy.") from the coordinator's local replica of the catalogue. It
// is the only package that imports github.com/miekg/dns, and it reads the
// catalogue only through the small read-only [View]; it imports no Raft,
// gossip or HTTP code.
//
// The one idea: every coordinator answers from what it has applied, without
// asking the leader, so DNS keeps answering during a leader election and
// every coordinator gives the same answer once it has caught up. The SOA
// serial is the catalogue's Raft index, so two coordinators can be compared
// with a SOA query. A coordinator cut off from any leader for longer than
// [Config.MaxStale] answers SERVFAIL instead, so resolvers move on to one
// that is not.
//
// Names (all under the zone; matching ignores case, and the question is
// echoed as sent so that 0x20 randomisation works):
//
//	<service>.service          A/AAAA of the healthy instances (passing, on
//	                           an alive host, not fenced), primary first;
//	                           SRV with priority 0 for primaries and 1 for
//	                           the others (weight 1), the instance port and
//	                           the target <host>.node, whose address goes in
//	                           the additional section
//	<tag>.<service>.service    the same, only instances carrying the tag
//	_<service>._<tag>.service  the same in RFC 2782 form; _tcp and _udp
//	                           stand for any tag
//	<host>.node                A/AAAA of the host, whatever its status
//	<name>.ns                  A/AAAA of a coordinator from [Config.NameServers]
//	apex                       SOA (serial = Raft index, minimum = negative
//	                           TTL) and NS (<name>.ns, with glue)
//
// Answers carry AA. A name that does not exist gets NXDOMAIN; a name that
// exists without records of the type asked gets NOERROR with no answer
// (NODATA). Both carry the SOA in the authority section with the negative
// TTL. A service that exists but has no healthy instance is NODATA, not
// NXDOMAIN: the name is there and comes back within the negative TTL, and
// a <tag>.<service> name exists whenever its service does. The empty
// non-terminals service., node. and ns. are NODATA too, since an NXDOMAIN
// there would deny every name below (RFC 8020). Catalogue names are looked
// up in lower case, so services and hosts must be named in lower case.
//
// Everything else: names outside the zone and classes other than IN get
// REFUSED (no recursion; RA is never set); AXFR and IXFR get REFUSED, over
// UDP and TCP alike, because every coordinator holds the data through Raft;
// opcodes other than QUERY (NOTIFY, UPDATE, IQUERY, STATUS) get NOTIMP; a
// query with other than one question, or with two OPT records, gets
// FORMERR (these are also turned away before the packet is unpacked; such
// a reply is never larger than the query, so it is not rate limited); EDNS
// versions other than 0 get BADVERS. ANY is answered
// minimally with one HINFO "RFC8482" record (RFC 8482). Packets that cannot
// be parsed get FORMERR when their header can be read and nothing
// otherwise; responses are never answered.
//
// Size: over UDP an answer is cut to 512 bytes, or to the client's EDNS
// buffer size up to 4096, which is also the size this server advertises.
// Glue in the additional section is dropped first, without TC; if the
// answer itself does not fit, what fits is sent with TC set and the client
// retries over TCP, where the limit is 65535 bytes.
//
// Speed: records built from the view for service and node names are kept
// until the catalogue index moves (a bounded cache, shared read-only by
// the replies that use them), and the SOA is built once per index, so a
// repeated query costs the reply message and little else. Apex and
// <name>.ns answers are built on each query from [Config.NameServers].
//
// Rate limiting ([Config.RateLimit]) is a token bucket of UDP responses per
// source network (IPv4 /24, IPv6 /56). Over the limit, every second
// response is sent as an empty reply with TC set (a "slip", so a real
// client whose network is being spoofed still gets through over TCP) and
// the others are dropped. Buckets live in a fixed table, so memory is
// bounded whatever the number of sources. TCP is not limited: its source
// cannot be spoofed.
package dns
