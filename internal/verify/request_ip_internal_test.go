package verify

import (
	"net/http"
	"net/netip"
	"testing"
)

// TestReadRequestIP: the body's ip is the client address, unmapped from
// IPv4-mapped IPv6 and without a zone; absent or empty is none; anything
// else is BAD_REQUEST whatever the key (so a gateway that sends
// "203.0.113.7:51234" learns so on its first call).
func TestReadRequestIP(t *testing.T) {
	tests := []struct {
		body       string
		want       string // "" : the zero Addr
		wantStatus int
	}{
		{`{"key":"k"}`, "", 0},
		{`{"key":"k","ip":""}`, "", 0},
		{`{"key":"k","ip":null}`, "", 0},
		{`{"key":"k","ip":"203.0.113.7"}`, "203.0.113.7", 0},
		{`{"key":"k","ip":"2001:db8::1"}`, "2001:db8::1", 0},
		{`{"key":"k","ip":"::ffff:1.2.3.4"}`, "1.2.3.4", 0},
		{`{"key":"k","ip":"fe80::1%eth0"}`, "fe80::1", 0},
		{`{"key":"k","ip":"203.0.113.7:51234"}`, "", http.StatusBadRequest},
		{`{"key":"k","ip":"[2001:db8::1]:443"}`, "", http.StatusBadRequest},
		{`{"key":"k","ip":"203.0.113.0/24"}`, "", http.StatusBadRequest},
		{`{"key":"k","ip":"example.com"}`, "", http.StatusBadRequest},
		{`{"key":"k","ip":" 203.0.113.7"}`, "", http.StatusBadRequest},
		{`{"key":"k","ip":7}`, "", http.StatusBadRequest},
	}
	for _, tt := range tests {
		var req Request
		status, msg := readRequest([]byte(tt.body), "application/json", true, &req)
		if status != tt.wantStatus {
			t.Errorf("%s: status %d (%s), want %d", tt.body, status, msg, tt.wantStatus)
			continue
		}
		if status == http.StatusBadRequest && tt.body != `{"key":"k","ip":7}` && msg != "ip must be the client's IP address, like 203.0.113.7 or 2001:db8::1, without a port." {
			t.Errorf("%s: message %q", tt.body, msg)
		}
		if status != 0 {
			continue
		}
		var want netip.Addr
		if tt.want != "" {
			want = netip.MustParseAddr(tt.want)
		}
		if req.IP != want {
			t.Errorf("%s: ip %v, want %v", tt.body, req.IP, want)
		}
	}
}
