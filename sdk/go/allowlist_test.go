package keyhold_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	keyhold "github.com/keyhold/keyhold/sdk/go"
)

// TestIPAllowlist: a key's IP allow-list through the SDK against a real
// Keyhold: set on create and read back normalised, kept by an update that
// does not name it, replaced and cleared by one that does; Verify and
// Token send IP, and an address off the list is FORBIDDEN.
func TestIPAllowlist(t *testing.T) {
	ctx := context.Background()
	kh := keyhold.New(keyholdURL, keyhold.WithRootKey(rootKey(t, allPermissions...)))
	acct, err := kh.CreateAccount(ctx, keyhold.NewAccount{Name: "Acme", ExternalID: "ip-" + time.Now().Format("150405.000000")})
	if err != nil {
		t.Fatal(err)
	}
	k, err := kh.CreateKey(ctx, acct.ID, keyhold.NewKey{Name: "edge", IPAllowlist: []string{"203.0.113.0/24", "::ffff:10.0.0.0/104"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(k.IPAllowlist, " "); got != "203.0.113.0/24 10.0.0.0/8" {
		t.Fatalf("created with %q", got)
	}
	check := func(what, ip string, want keyhold.Code) {
		t.Helper()
		v := mustVerify(t, kh, k.Secret, keyhold.VerifyOptions{Cost: keyhold.NoCost, IP: ip})
		if v.Code != want {
			t.Errorf("%s, ip %q: %s (%d %s), want %s", what, ip, v.Code, v.StatusCode, v.Message, want)
		}
		if want == keyhold.CodeForbidden && (v.StatusCode != http.StatusForbidden || v.Valid || v.RateLimit == nil) {
			t.Errorf("%s: FORBIDDEN as %d valid %v limits %+v", what, v.StatusCode, v.Valid, v.RateLimit)
		}
	}
	check("listed", "203.0.113.7", keyhold.CodeValid)
	check("listed, IPv4-mapped", "::ffff:10.1.2.3", keyhold.CodeValid)
	check("unlisted", "198.51.100.1", keyhold.CodeForbidden)
	check("no ip", "", keyhold.CodeForbidden)
	check("not an address", "203.0.113.7:443", keyhold.CodeBadRequest)

	tok, refusal, err := kh.Token(ctx, k.Secret, keyhold.TokenOptions{IP: "198.51.100.1"})
	if err != nil || tok != nil || refusal == nil || refusal.Code != keyhold.CodeForbidden {
		t.Errorf("token from an unlisted address: %+v %+v %v", tok, refusal, err)
	}
	if tok, refusal, err := kh.Token(ctx, k.Secret, keyhold.TokenOptions{IP: "203.0.113.7"}); err != nil || tok == nil {
		t.Errorf("token from a listed address: %+v %v", refusal, err)
	}

	name := "edge 2"
	u, err := kh.UpdateKey(ctx, k.ID, keyhold.KeyUpdate{Name: &name})
	if err != nil || strings.Join(u.IPAllowlist, " ") != "203.0.113.0/24 10.0.0.0/8" {
		t.Fatalf("an update without the list: %+v %v", u, err)
	}
	if u, err = kh.UpdateKey(ctx, k.ID, keyhold.KeyUpdate{IPAllowlist: &[]string{"198.51.100.0/24"}}); err != nil || strings.Join(u.IPAllowlist, " ") != "198.51.100.0/24" {
		t.Fatalf("replaced: %+v %v", u, err)
	}
	check("after replacing, the new range", "198.51.100.1", keyhold.CodeValid)
	check("after replacing, a removed range", "203.0.113.7", keyhold.CodeForbidden)
	_, err = kh.UpdateKey(ctx, k.ID, keyhold.KeyUpdate{IPAllowlist: &[]string{"10.1.2.3/8"}})
	var apiErr *keyhold.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnprocessableEntity || len(apiErr.Errors) != 1 || apiErr.Errors[0].Location != "body.ip_allowlist" {
		t.Errorf("host bits set: %v, want 422 at body.ip_allowlist", err)
	}
	if u, err = kh.UpdateKey(ctx, k.ID, keyhold.KeyUpdate{IPAllowlist: &[]string{}}); err != nil || u.IPAllowlist == nil || len(u.IPAllowlist) != 0 {
		t.Fatalf("cleared: %#v %v", u, err)
	}
	check("after clearing, no ip", "", keyhold.CodeValid)
	if got, err := kh.Key(ctx, k.ID); err != nil || len(got.IPAllowlist) != 0 {
		t.Errorf("read back: %+v %v", got, err)
	}
}

// TestMiddlewareClientIP: with WithClientIP(RemoteIP) the middleware sends
// the caller's address, so a key listing it passes and one that does not
// is answered 403 FORBIDDEN; without the option no address goes, and a key
// with a list is refused.
func TestMiddlewareClientIP(t *testing.T) {
	ctx := context.Background()
	kh := keyhold.New(keyholdURL, keyhold.WithRootKey(rootKey(t, allPermissions...)))
	acct, err := kh.CreateAccount(ctx, keyhold.NewAccount{Name: "Acme", ExternalID: "mw-" + time.Now().Format("150405.000000")})
	if err != nil {
		t.Fatal(err)
	}
	loopback, err := kh.CreateKey(ctx, acct.ID, keyhold.NewKey{Name: "loopback", IPAllowlist: []string{"127.0.0.0/8", "::1"}})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := kh.CreateKey(ctx, acct.ID, keyhold.NewKey{Name: "elsewhere", IPAllowlist: []string{"192.0.2.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	withIP := httptest.NewServer(keyhold.New(keyholdURL).Middleware(ok, keyhold.WithCost(keyhold.NoCost), keyhold.WithClientIP(keyhold.RemoteIP)))
	t.Cleanup(withIP.Close)
	without := httptest.NewServer(keyhold.New(keyholdURL).Middleware(ok, keyhold.WithCost(keyhold.NoCost)))
	t.Cleanup(without.Close)
	for _, tc := range []struct {
		name, server, key string
		status            int
	}{
		{"listed", withIP.URL, loopback.Secret, http.StatusNoContent},
		{"unlisted", withIP.URL, elsewhere.Secret, http.StatusForbidden},
		{"no address sent", without.URL, loopback.Secret, http.StatusForbidden},
	} {
		a := call(t, tc.server+"/", map[string]string{"X-API-Key": tc.key})
		if a.status != tc.status || (tc.status == http.StatusForbidden && !strings.Contains(a.body, `"code":"FORBIDDEN"`)) {
			t.Errorf("%s: %d %s, want %d", tc.name, a.status, a.body, tc.status)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for addr, want := range map[string]string{"203.0.113.7:51234": "203.0.113.7", "[2001:db8::1]:443": "2001:db8::1", "203.0.113.7": "203.0.113.7"} {
		r.RemoteAddr = addr
		if got := keyhold.RemoteIP(r); got != want {
			t.Errorf("RemoteIP(%q) = %q, want %q", addr, got, want)
		}
	}
}
