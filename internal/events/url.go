package events

import (
	"net/netip"
	"net/url"
	"strings"

	"github.com/keyhold/keyhold/internal/keyhold"
)

// MaxURLBytes is the longest endpoint URL CheckURL accepts.
const MaxURLBytes = 2048

// Address classes refused as webhook destinations. An IPv4-mapped IPv6
// address (::ffff:10.0.0.1) is unmapped first, and the IPv4 address inside
// a NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address is checked as well,
// since a gateway would carry the request on to it.
var (
	privateNets = []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("fc00::/7"),
	}
	// "This network" (0/8) and the reserved 240/4 with the broadcast
	// address are not reachable hosts on the internet; several systems
	// treat 0.x.x.x as the local host.
	reservedNets = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),
		netip.MustParsePrefix("240.0.0.0/4"),
	}
	cgnat  = netip.MustParsePrefix("100.64.0.0/10")
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// refusal says why a is not a webhook destination, or "" when it may be
// dialled. Loopback is allowed only with allowLoopback.
func refusal(a netip.Addr, allowLoopback bool) string {
	a = a.Unmap()
	if a.Is6() && a.Zone() != "" {
		// A zone only makes sense on a link-local or site address.
		return "an address with a network interface zone"
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			if why := refusal(netip.AddrFrom4([4]byte(b[12:16])), false); why != "" {
				return "a NAT64 form of " + why
			}
		case sixTo4.Contains(a):
			if why := refusal(netip.AddrFrom4([4]byte(b[2:6])), false); why != "" {
				return "a 6to4 form of " + why
			}
		}
	}
	switch {
	case a.IsLoopback():
		if allowLoopback {
			return ""
		}
		return "a loopback address"
	case a.IsUnspecified():
		return "the unspecified address"
	case a.IsLinkLocalUnicast():
		if a == netip.AddrFrom4([4]byte{169, 254, 169, 254}) {
			return "the cloud metadata address"
		}
		return "a link-local address"
	case a.IsMulticast():
		return "a multicast address"
	case cgnat.Contains(a):
		return "a shared (carrier-grade NAT) address"
	}
	for _, p := range privateNets {
		if p.Contains(a) {
			return "a private address"
		}
	}
	for _, p := range reservedNets {
		if p.Contains(a) {
			return "a reserved address"
		}
	}
	return ""
}

// isLocalhost reports whether host is the name localhost, which resolves
// to loopback (RFC 6761), or a name under it.
func isLocalhost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// CheckURL validates an endpoint URL when it is saved: https only; http
// only to a loopback host (127.0.0.0/8, ::1, localhost) and only when
// allowInsecure; no user info; ≤ 2048 bytes; a host that is an IP written
// out is refused when private (10/8, 172.16/12, 192.168/16, fc00::/7),
// loopback (unless allowInsecure), link-local (169.254/16 incl.
// 169.254.169.254, fe80::/10), unspecified, multicast, CGNAT 100.64/10, or
// IPv4-mapped forms of these. Returns a *keyhold.Error with Code
// keyhold.EINVALID and a clear message naming the reason.
//
// A host name is not resolved here: what it resolves to may change, so the
// Sender's dial guard checks the address actually dialled on every attempt.
// The messages never repeat the URL, which may carry a token in its path.
func CheckURL(raw string, allowInsecure bool) error {
	if strings.TrimSpace(raw) == "" {
		return urlError("Enter the URL the webhooks are sent to.")
	}
	if len(raw) > MaxURLBytes {
		return urlError("The URL must be at most 2048 bytes long.")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || (u.Scheme != "" && u.Host == "") {
		return urlError("Enter the URL as an address like https://example.com/webhooks.")
	}
	switch strings.ToLower(u.Scheme) {
	case "https", "http":
	case "":
		return urlError("Enter the URL as an address like https://example.com/webhooks.")
	default:
		return urlError("The URL must start with https://.")
	}
	if u.User != nil {
		return urlError("The URL must not contain a user name or password; put a token in the path or query instead, or check the signature.")
	}
	host := u.Hostname()
	if host == "" {
		return urlError("The URL must name a host, like https://example.com/webhooks.")
	}
	if port := u.Port(); port == "0" {
		return urlError("The URL's port must not be 0.")
	}
	addr, ipErr := netip.ParseAddr(host)
	isIP := ipErr == nil
	if !isIP && numericHost(host) {
		// 2130706433, 0x7f.1, 127.1: not a valid dotted address, but some
		// resolvers read them as one (127.0.0.1). Refused rather than
		// guessed at.
		return urlError("The URL's host looks like an IP address in an unusual form; write it as four decimal numbers, like 203.0.113.7, or use a host name.")
	}
	loopback := (isIP && addr.Unmap().IsLoopback()) || (!isIP && isLocalhost(host))
	if strings.EqualFold(u.Scheme, "http") {
		switch {
		case !loopback:
			return urlError("The URL must use https://; plain http:// is allowed only to this machine (localhost) for development.")
		case !allowInsecure:
			return urlError("The URL must use https://; plain http:// to localhost needs KEYHOLD_WEBHOOKS_ALLOW_INSECURE=true.")
		}
	}
	if loopback && !allowInsecure {
		return urlError("The URL must not point to this machine (a loopback address) unless KEYHOLD_WEBHOOKS_ALLOW_INSECURE=true.")
	}
	if isIP {
		if why := refusal(addr, allowInsecure); why != "" {
			return urlError("The URL's host is " + why + ", which webhooks are never sent to; use a public address.")
		}
	}
	return nil
}

// numericHost reports whether host's last label is a number (decimal or
// 0x hex): no top-level domain is, so such a host is an IP address in a
// form netip does not read.
func numericHost(host string) bool {
	host = strings.TrimSuffix(host, ".")
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return false
	}
	if l := strings.ToLower(last); strings.HasPrefix(l, "0x") {
		return true
	}
	for _, c := range last {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func urlError(msg string) error {
	return &keyhold.Error{Code: keyhold.EINVALID, Message: msg, Fields: []keyhold.FieldError{{Field: "url", Message: msg}}}
}
