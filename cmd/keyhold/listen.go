package main

import (
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// listenURL is where the server bound to bound answers: its own address,
// or localhost when it listens on every interface (0.0.0.0, ::), marked so
// the operator knows it is reachable from outside too.
func listenURL(bound *net.TCPAddr) string {
	port := strconv.Itoa(bound.Port)
	if bound.IP.IsUnspecified() {
		return "http://" + net.JoinHostPort("localhost", port) + " (all interfaces)"
	}
	return "http://" + net.JoinHostPort(bound.IP.String(), port)
}

// pointsAt reports whether base (KEYHOLD_BASE_URL) reaches the server
// bound to bound directly, by comparing host and port without asking DNS:
// localhost, loopback and unspecified addresses all name this machine,
// which a server bound to loopback or to every interface answers on; any
// other name is not known to. A false answer is only worth a note, since
// behind a proxy the public URL rightly differs.
func pointsAt(base *url.URL, bound *net.TCPAddr) bool {
	port := base.Port()
	if port == "" {
		port = "80"
		if base.Scheme == "https" {
			port = "443"
		}
	}
	if port != strconv.Itoa(bound.Port) {
		return false
	}
	host := base.Hostname()
	ip, err := netip.ParseAddr(host)
	local := strings.EqualFold(host, "localhost") || (err == nil && (ip.IsLoopback() || ip.IsUnspecified()))
	if bound.IP.IsUnspecified() || bound.IP.IsLoopback() {
		return local
	}
	b, ok := netip.AddrFromSlice(bound.IP)
	return err == nil && ok && ip.Unmap() == b.Unmap()
}
