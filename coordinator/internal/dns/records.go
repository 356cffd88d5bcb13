package dns

import (
	"net/netip"

	mdns "github.com/miekg/dns"
)

// parseAddr parses a catalogue address; the zero Addr means none.
// IPv4-mapped IPv6 addresses become IPv4, and an IPv6 zone is dropped.
func parseAddr(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// addrRR returns an A or AAAA record for addr, or nil when addr is not
// valid or not of the wanted type (TypeA, TypeAAAA, or 0 for either).
func (h *Handler) addrRR(name string, addr netip.Addr, want uint16) mdns.RR {
	addr = addr.Unmap()
	switch {
	case addr.Is4() && (want == 0 || want == mdns.TypeA):
		return &mdns.A{Hdr: h.hdr(name, mdns.TypeA, h.ttl), A: addr.AsSlice()}
	case addr.Is6() && (want == 0 || want == mdns.TypeAAAA):
		return &mdns.AAAA{Hdr: h.hdr(name, mdns.TypeAAAA, h.ttl), AAAA: addr.AsSlice()}
	}
	return nil
}
