package dns

import (
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
)

// UDP payload sizes (RFC 6891): a client without EDNS gets at most 512
// bytes; a client's advertised size is honoured up to maxUDPSize, which is
// also what this server advertises.
const (
	minUDPSize = mdns.MinMsgSize
	maxUDPSize = 4096
)

// SOA timers. Nothing transfers the zone (every coordinator holds the data
// through Raft), so refresh, retry and expire only matter to tools that
// read them; minimum is the negative TTL.
const (
	soaRefresh = 3600
	soaRetry   = 600
	soaExpire  = 86400
)

// hinfoCPU marks the minimal answer to ANY queries (RFC 8482 §4.2).
const hinfoCPU = "RFC8482"

// Handler answers DNS queries for the zone from a [View]. It is a
// [github.com/miekg/dns.Handler] and is safe for concurrent use.
type Handler struct {
	view View
	log  *slog.Logger

	zone     string // lower-case, fully qualified: "understudy."
	dotZone  string // "." + zone, the suffix of every name below the apex
	mbox     string // SOA RNAME: "hostmaster." + zone
	nsSuffix string // ".ns." + zone

	ttl, negTTL uint32

	maxStale    time.Duration
	staleness   func() time.Duration
	nameServers func() []NameServer
	observe     func(qtype, rcode string, took time.Duration)

	limit    *limiter // nil when rate limiting is off
	cache    answerCache
	soaCache atomic.Pointer[soaRecords]
}

// NewHandler validates cfg and returns a handler answering from view.
// cfg.Addr is not used.
func NewHandler(cfg Config, view View) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	zone := strings.ToLower(mdns.Fqdn(strings.TrimSpace(cfg.Zone)))
	h := &Handler{
		view:        view,
		log:         cfg.Logger,
		zone:        zone,
		dotZone:     "." + zone,
		mbox:        "hostmaster." + zone,
		nsSuffix:    ".ns." + zone,
		ttl:         ttlSeconds(cfg.TTL),
		negTTL:      ttlSeconds(cfg.NegativeTTL),
		maxStale:    cfg.MaxStale,
		staleness:   cfg.Staleness,
		nameServers: cfg.NameServers,
		observe:     cfg.Observe,
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if cfg.RateLimit > 0 {
		h.limit = newLimiter(cfg.RateLimit)
	}
	return h, nil
}

// Zone returns the zone the handler answers for, lower-case and fully
// qualified.
func (h *Handler) Zone() string { return h.zone }

// ServeDNS answers one query. Over UDP (any writer whose remote address is
// not a *net.TCPAddr) the answer is cut to the client's EDNS buffer size
// with TC set, and the per-source rate limit applies.
func (h *Handler) ServeDNS(w mdns.ResponseWriter, r *mdns.Msg) {
	if r.Response {
		return // never answer answers: that is how reflection loops start
	}
	var start time.Time
	if h.observe != nil {
		start = time.Now()
	}
	_, tcp := w.RemoteAddr().(*net.TCPAddr)
	if !tcp && h.limit != nil {
		switch h.limit.allow(w.RemoteAddr()) {
		case verdictDrop:
			h.observed(r, "dropped", start)
			return
		case verdictSlip:
			m := new(mdns.Msg)
			m.SetReply(r)
			m.Truncated = true
			h.write(w, m)
			h.observed(r, rcodeName(m.Rcode), start)
			return
		}
	}
	m := h.answer(r, tcp)
	h.write(w, m)
	h.observed(r, rcodeName(m.Rcode), start)
}

// observed reports one query to the Observe hook, if any.
func (h *Handler) observed(r *mdns.Msg, rcode string, start time.Time) {
	if h.observe == nil {
		return
	}
	qtype := "none"
	if len(r.Question) > 0 {
		qtype = qtypeName(r.Question[0].Qtype)
	}
	h.observe(qtype, rcode, time.Since(start))
}

// qtypeName names a query type, folding types without a name into "other"
// so that metrics labels stay bounded.
func qtypeName(t uint16) string {
	if s, ok := mdns.TypeToString[t]; ok {
		return s
	}
	return "other"
}

// rcodeName names a response code; see [qtypeName].
func rcodeName(rc int) string {
	if s, ok := mdns.RcodeToString[rc]; ok {
		return s
	}
	return "other"
}

func (h *Handler) write(w mdns.ResponseWriter, m *mdns.Msg) {
	if err := w.WriteMsg(m); err != nil {
		h.log.Debug("dns reply not sent", "err", err)
	}
}

// answer builds the reply to r. tcp selects the size limit: 65535 bytes
// over TCP, the client's EDNS buffer size (512 to 4096) over UDP.
func (h *Handler) answer(r *mdns.Msg, tcp bool) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetReply(r)
	if r.Opcode != mdns.OpcodeQuery {
		// UPDATE, NOTIFY, IQUERY, STATUS: the zone changes only through Raft.
		m.Rcode = mdns.RcodeNotImplemented
		return m
	}
	if len(r.Question) != 1 {
		m.Rcode = mdns.RcodeFormatError
		return m
	}
	size := mdns.MaxMsgSize
	var opt *mdns.OPT
	for _, rr := range r.Extra {
		o, ok := rr.(*mdns.OPT)
		if !ok {
			continue
		}
		if opt != nil { // RFC 6891 §6.1.1: more than one OPT is FORMERR
			m.Rcode = mdns.RcodeFormatError
			return m
		}
		opt = o
	}
	if opt != nil {
		m.SetEdns0(maxUDPSize, opt.Do())
		if opt.Version() != 0 {
			m.Rcode = mdns.RcodeBadVers
			return m
		}
	}
	if !tcp {
		size = minUDPSize
		if opt != nil {
			size = min(max(int(opt.UDPSize()), minUDPSize), maxUDPSize)
		}
	}

	q := r.Question[0]
	name := strings.ToLower(q.Name)
	if q.Qclass != mdns.ClassINET || !h.inZone(name) {
		m.Rcode = mdns.RcodeRefused
		return m
	}
	if q.Qtype == mdns.TypeAXFR || q.Qtype == mdns.TypeIXFR {
		m.Rcode = mdns.RcodeRefused // every coordinator has the data through Raft
		return m
	}
	if h.maxStale > 0 && h.staleness != nil && h.staleness() > h.maxStale {
		m.Rcode = mdns.RcodeServerFailure
		return m
	}

	m.Authoritative = true
	index := h.view.Index()
	exists := h.lookup(m, q, name, index)
	switch {
	case !exists:
		m.Rcode = mdns.RcodeNameError
		m.Answer, m.Extra = nil, keepOPT(m.Extra)
		m.Ns = h.soa(index).negative[:1:1]
	case q.Qtype == mdns.TypeANY:
		// RFC 8482: one synthesised HINFO instead of every RRset.
		m.Answer = []mdns.RR{&mdns.HINFO{Hdr: h.hdr(q.Name, mdns.TypeHINFO, h.ttl), Cpu: hinfoCPU}}
		m.Extra = keepOPT(m.Extra)
	case len(m.Answer) == 0:
		m.Extra = keepOPT(m.Extra)
		m.Ns = h.soa(index).negative[:1:1]
	}
	fit(m, size)
	return m
}

// inZone reports whether the lower-case name is the zone or below it.
// Names with escapes (\. or \DDD) take the slow, label-aware path.
func (h *Handler) inZone(name string) bool {
	if strings.IndexByte(name, '\\') >= 0 {
		return mdns.IsSubDomain(h.zone, name)
	}
	return name == h.zone || strings.HasSuffix(name, h.dotZone)
}

// lookup adds the answer and additional records for q to m and reports
// whether the name exists. name is q.Name in lower case, known to be in the
// zone; index is the catalogue index read before anything else. For ANY
// only existence matters.
func (h *Handler) lookup(m *mdns.Msg, q mdns.Question, name string, index uint64) bool {
	if name == h.zone || !strings.HasSuffix(name, h.dotZone) {
		if name != h.zone {
			// In the zone only by an escaped label: no catalogue name has
			// one.
			return false
		}
		h.apex(m, q, index)
		return true
	}
	rel := name[:len(name)-len(h.dotZone)] // "login.service", "tag.login.service"
	kind, rest := rel, ""
	if i := strings.LastIndexByte(rel, '.'); i >= 0 {
		kind, rest = rel[i+1:], rel[:i]
	}
	if rest == "" {
		// service.<zone>, node.<zone> and ns.<zone> are empty non-terminals:
		// they exist (NODATA), or NXDOMAIN would tell resolvers that
		// nothing below them exists either (RFC 8020).
		return kind == "service" || kind == "node" || kind == "ns"
	}
	switch kind {
	case "service", "node":
		k := cacheKey{name: name, qtype: cacheType(q.Qtype)}
		r, ok := h.cache.get(index, k)
		if !ok {
			if kind == "service" {
				r = h.service(name, k.qtype, rest)
			} else {
				r = h.node(name, k.qtype, rest)
			}
			h.cache.put(index, k, r)
		}
		m.Answer = withOwner(r.answer, q.Name, name)
		m.Extra = append(m.Extra, r.extra...)
		return r.exists
	case "ns":
		if strings.IndexByte(rest, '.') >= 0 {
			return false
		}
		return h.nameServer(m, q, rest)
	}
	return false
}

// withOwner returns rrs owned by qname, the name as the client spelt it.
// The cached records are shared, so a differently cased name gets copies.
func withOwner(rrs []mdns.RR, qname, name string) []mdns.RR {
	if qname == name || len(rrs) == 0 {
		return rrs[:len(rrs):len(rrs)] // appending must not write into the cache
	}
	out := make([]mdns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = mdns.Copy(rr)
		out[i].Header().Name = qname
	}
	return out
}

// apex answers SOA and NS at the zone apex.
func (h *Handler) apex(m *mdns.Msg, q mdns.Question, index uint64) {
	switch q.Qtype {
	case mdns.TypeSOA:
		m.Answer = withOwner([]mdns.RR{h.soa(index).answer}, q.Name, h.zone)
	case mdns.TypeNS:
		if h.nameServers == nil {
			return
		}
		for _, ns := range h.nameServers() {
			target := strings.ToLower(ns.Name) + h.nsSuffix
			m.Answer = append(m.Answer, &mdns.NS{Hdr: h.hdr(q.Name, mdns.TypeNS, h.ttl), Ns: target})
			if rr := h.addrRR(target, ns.Addr, 0); rr != nil {
				m.Extra = append(m.Extra, rr)
			}
		}
	}
}

// service builds the records of name, <tag>.<svc>.service.<zone> (rest is
// "<tag>.<svc>" or "<svc>"), for qtype (A, AAAA, SRV or 0). A service that
// exists has the name even with no healthy instance: that is NODATA, not
// NXDOMAIN, so resolvers keep asking and see the instance come back within
// the negative TTL.
func (h *Handler) service(name string, qtype uint16, rest string) records {
	tag, svc := "", rest
	if i := strings.IndexByte(rest, '.'); i >= 0 {
		tag, svc = rest[:i], rest[i+1:]
		if strings.IndexByte(svc, '.') >= 0 {
			return records{}
		}
		if len(tag) > 1 && len(svc) > 1 && tag[0] == '_' && svc[0] == '_' {
			// RFC 2782 form _<service>._<tag>; _tcp and _udp mean any tag.
			svc, tag = tag[1:], svc[1:]
			if tag == "tcp" || tag == "udp" {
				tag = ""
			}
		}
	}
	eps, ok := h.view.Healthy(svc)
	if !ok {
		return records{}
	}
	r := records{exists: true}
	for _, ep := range eps {
		if tag != "" && !hasTag(ep.Tags, tag) {
			continue
		}
		switch qtype {
		case mdns.TypeA, mdns.TypeAAAA:
			if rr := h.addrRR(name, parseAddr(ep.Address), qtype); rr != nil && !hasRR(r.answer, rr) {
				r.answer = append(r.answer, rr)
			}
		case mdns.TypeSRV:
			prio := uint16(1)
			if ep.Primary {
				prio = 0
			}
			target := strings.ToLower(ep.Host) + ".node." + h.zone
			r.answer = append(r.answer, &mdns.SRV{
				Hdr:      h.hdr(name, mdns.TypeSRV, h.ttl),
				Priority: prio,
				Weight:   1,
				Port:     uint16(ep.Port),
				Target:   target,
			})
			if rr := h.addrRR(target, parseAddr(ep.Address), 0); rr != nil {
				r.extra = append(r.extra, rr)
			}
		}
	}
	return r
}

// node builds the records of name, <host>.node.<zone>: the host's address,
// whatever the host's status, since the name is the machine, not a
// service on it.
func (h *Handler) node(name string, qtype uint16, host string) records {
	if strings.IndexByte(host, '.') >= 0 {
		return records{}
	}
	hs, ok := h.view.Host(host)
	if !ok {
		return records{}
	}
	r := records{exists: true}
	if qtype == mdns.TypeA || qtype == mdns.TypeAAAA {
		if rr := h.addrRR(name, parseAddr(hs.Address), qtype); rr != nil {
			r.answer = append(r.answer, rr)
		}
	}
	return r
}

// nameServer answers <name>.ns.<zone>, the targets of the apex NS records.
func (h *Handler) nameServer(m *mdns.Msg, q mdns.Question, name string) bool {
	if h.nameServers == nil {
		return false
	}
	for _, ns := range h.nameServers() {
		if !strings.EqualFold(ns.Name, name) {
			continue
		}
		if q.Qtype == mdns.TypeA || q.Qtype == mdns.TypeAAAA {
			if rr := h.addrRR(q.Name, ns.Addr, q.Qtype); rr != nil {
				m.Answer = append(m.Answer, rr)
			}
		}
		return true
	}
	return false
}

// soaRecords is the zone's SOA for one catalogue index and primary name
// server, as the answer to a SOA query (positive TTL) and as the authority
// section of negative answers (negative TTL). Shared and read-only.
type soaRecords struct {
	index    uint64
	nsName   string
	answer   *mdns.SOA
	negative []mdns.RR // one SOA with the negative TTL
}

// soa returns the zone's SOA records. The serial is the catalogue's Raft
// index, so it moves whenever any answer may have changed; MNAME is the
// first name server, or the apex when there is none.
func (h *Handler) soa(index uint64) *soaRecords {
	nsName := ""
	if h.nameServers != nil {
		if nss := h.nameServers(); len(nss) > 0 {
			nsName = nss[0].Name
		}
	}
	if s := h.soaCache.Load(); s != nil && s.index == index && s.nsName == nsName {
		return s
	}
	mname := h.zone
	if nsName != "" {
		mname = strings.ToLower(nsName) + h.nsSuffix
	}
	build := func(ttl uint32) *mdns.SOA {
		return &mdns.SOA{
			Hdr:     h.hdr(h.zone, mdns.TypeSOA, ttl),
			Ns:      mname,
			Mbox:    h.mbox,
			Serial:  uint32(index),
			Refresh: soaRefresh,
			Retry:   soaRetry,
			Expire:  soaExpire,
			Minttl:  h.negTTL,
		}
	}
	s := &soaRecords{index: index, nsName: nsName, answer: build(h.ttl), negative: []mdns.RR{build(h.negTTL)}}
	h.soaCache.Store(s)
	return s
}

func (h *Handler) hdr(name string, t uint16, ttl uint32) mdns.RR_Header {
	return mdns.RR_Header{Name: name, Rrtype: t, Class: mdns.ClassINET, Ttl: ttl}
}

// keepOPT returns the OPT record of extra alone, dropping glue.
func keepOPT(extra []mdns.RR) []mdns.RR {
	if len(extra) == 0 || len(extra) == 1 && extra[0].Header().Rrtype == mdns.TypeOPT {
		return extra
	}
	for _, rr := range extra {
		if rr.Header().Rrtype == mdns.TypeOPT {
			return []mdns.RR{rr}
		}
	}
	return nil
}

// fit cuts m to size bytes. Glue in the additional section goes first and
// does not set TC (it is not required data, RFC 2181 §9); if the answer
// still does not fit, [mdns.Msg.Truncate] keeps what fits and sets TC so
// the client retries over TCP.
func fit(m *mdns.Msg, size int) {
	if len(m.Extra) > 0 {
		m.Compress = true
		if m.Len() > size {
			m.Extra = keepOPT(m.Extra)
		}
	}
	m.Truncate(size)
}

func hasTag(tags []string, tag string) bool {
	for _, t := range tags {
		if strings.EqualFold(t, tag) {
			return true
		}
	}
	return false
}

// hasRR reports whether rr's data is already in rrs (RFC 2181 §5: no
// duplicate records in an RRset; two instances may share an address).
func hasRR(rrs []mdns.RR, rr mdns.RR) bool {
	for _, x := range rrs {
		if mdns.IsDuplicate(x, rr) {
			return true
		}
	}
	return false
}
