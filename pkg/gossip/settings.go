package gossip

import (
	"fmt"
	"net"
)

// SettingsErrors checks the gossip settings that coordinators and agents
// both write in their configuration files, and names each problem by its
// configuration key (bind_addr, advertise_addr, encrypt, gossip_profile).
func SettingsErrors(bindAddr, advertiseAddr, encrypt, profile string) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	bind := net.ParseIP(bindAddr)
	if bind == nil {
		add("bind_addr: %q is not an IP address", bindAddr)
	}
	if advertiseAddr != "" {
		if ip := net.ParseIP(advertiseAddr); ip == nil || ip.IsUnspecified() {
			add("advertise_addr: %q is not a specific IP address", advertiseAddr)
		}
	} else if bind != nil && bind.IsUnspecified() {
		add("advertise_addr: must be set when bind_addr is %s", bindAddr)
	}
	if encrypt != "" {
		if _, err := ParseKey(encrypt); err != nil {
			add("encrypt: %v", err)
		}
	}
	switch Profile(profile) {
	case ProfileLAN, ProfileFast:
	default:
		add("gossip_profile: %q is not lan or fast", profile)
	}
	return errs
}
