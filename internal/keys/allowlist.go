package keys

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode"

	"github.com/keyhold/keyhold/internal/keyhold"
)

// MaxAllowlist is the most CIDRs a key's IP allow-list holds.
const MaxAllowlist = 32

// SplitAllowlist splits the allow-list as the key form takes it: entries
// separated by commas, spaces or newlines. Blank text is an empty list,
// never nil: the form always says what the list is.
func SplitAllowlist(s string) []string {
	out := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if out == nil {
		out = []string{}
	}
	return out
}

// ParseAllowlist turns a key's IP allow-list as given (CIDRs, IPv4 or
// IPv6; a bare address is a /32 or /128) into the prefixes stored, in the
// order given, without repeats. Each entry is normalised: an IPv4-mapped
// IPv6 prefix of at least 96 bits (::ffff:10.0.0.0/104) becomes its IPv4
// form (10.0.0.0/8), since the verifier compares unmapped addresses.
//
// An entry with host bits set (10.1.2.3/8) is refused, not masked: the
// list is an access control, and masking would silently allow the whole
// 10.0.0.0/8 to someone who may have meant 10.1.2.3 alone. The message
// offers both readings. Zones (fe80::1%eth0) are refused too: addresses
// are compared without them.
//
// The error is EINVALID, naming the first bad entry and why, or saying
// that the list is longer than MaxAllowlist.
func ParseAllowlist(entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	for _, raw := range entries {
		s := strings.TrimSpace(raw)
		if s == "" {
			continue
		}
		p, err := parseAllowEntry(s)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(out) > MaxAllowlist {
		return nil, keyhold.Errorf(keyhold.EINVALID, "An IP allow-list holds at most %d entries; this one has %d.", MaxAllowlist, len(out))
	}
	return out, nil
}

func parseAllowEntry(s string) (netip.Prefix, error) {
	shown := truncate(s, 50)
	if err := keyhold.CheckText("An allow-list entry", s); err != nil {
		return netip.Prefix{}, err
	}
	if strings.Contains(s, "%") {
		return netip.Prefix{}, keyhold.Errorf(keyhold.EINVALID, "%q has a zone (%%…): enter the address or CIDR without it.", shown)
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, keyhold.Errorf(keyhold.EINVALID,
				"%q is not a CIDR: write an address and a prefix length, like 203.0.113.0/24 or 2001:db8::/32.", shown)
		}
		if m := p.Masked(); m != p {
			return netip.Prefix{}, keyhold.Errorf(keyhold.EINVALID,
				"%q has bits set past its prefix length: did you mean %s, or the single address %s?", shown, unmapPrefix(m), unmapAddr(p.Addr()))
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, keyhold.Errorf(keyhold.EINVALID,
				"%q is not an IP address or CIDR: enter one like 203.0.113.7, 203.0.113.0/24 or 2001:db8::/32.", shown)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return unmapPrefix(p), nil
}

// unmapPrefix returns p's IPv4 form when it lies wholly inside the
// IPv4-mapped range ::ffff:0:0/96, else p.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// unmapAddr is a as a single-address prefix, IPv4 for a mapped address.
func unmapAddr(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen())
}

// FormatAllowlist is a stored allow-list as the key form shows it: one
// CIDR a line.
func FormatAllowlist(ps []netip.Prefix) string {
	return strings.Join(AllowlistStrings(ps), "\n")
}

// AllowlistStrings is a stored allow-list as text, one CIDR each; [] when
// there is none.
func AllowlistStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// describeAllowlist summarises a change of allow-list for the audit log,
// or "" when there is none: what was added and removed.
func describeAllowlist(old, new []netip.Prefix) string {
	var added, removed []string
	for _, p := range new {
		if !slices.Contains(old, p) {
			added = append(added, p.String())
		}
	}
	for _, p := range old {
		if !slices.Contains(new, p) {
			removed = append(removed, p.String())
		}
	}
	switch {
	case len(added) == 0 && len(removed) == 0:
		if slices.Equal(old, new) {
			return ""
		}
		return "IP allow-list reordered"
	case len(new) == 0:
		return "IP allow-list removed (any address)"
	}
	parts := []string{}
	if len(added) > 0 {
		parts = append(parts, "added "+strings.Join(added, " "))
	}
	if len(removed) > 0 {
		parts = append(parts, "removed "+strings.Join(removed, " "))
	}
	return fmt.Sprintf("IP allow-list %s (%d %s)", strings.Join(parts, ", "), len(new), pluralWord(len(new), "entry", "entries"))
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
