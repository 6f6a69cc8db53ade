package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// cidrs returns n distinct IPv4 /24s.
func cidrs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)
	}
	return out
}

// verifyFromIP verifies key over HTTP as a call from ip ("" : no ip).
func (h *harness) verifyFromIP(t *testing.T, key, ip string) (*http.Response, verifyAnswer) {
	t.Helper()
	extra := ""
	if ip != "" {
		extra = `,"ip":"` + ip + `"`
	}
	return h.postVerify(t, verifyJSON(key, extra), nil)
}

// TestVerifyAllowlistHTTP: over HTTP, an address on the key's list is
// VALID; one off it, or none, is 403 FORBIDDEN with the key's limits in
// the headers and nothing taken; an ip that is no address is 400
// BAD_REQUEST whatever the key.
func TestVerifyAllowlistHTTP(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	_, listed := b.MustCreateKey("edge", url.Values{"ip_allowlist": {"203.0.113.0/24\n2001:db8::/32"}})
	_, open := b.MustCreateKey("open", nil)

	resp, first := h.verifyFromIP(t, listed, "203.0.113.9")
	if resp.StatusCode != 200 || !first.Valid {
		t.Fatalf("listed: %d %s", resp.StatusCode, first.Raw)
	}
	for _, ip := range []string{"198.51.100.1", "2001:db9::1", "::ffff:198.51.100.1", ""} {
		resp, a := h.verifyFromIP(t, listed, ip)
		if resp.StatusCode != 403 || a.Valid || a.Code != "FORBIDDEN" || !strings.Contains(a.Message, "not on the key's IP allow-list") {
			t.Errorf("ip %q: %d %s", ip, resp.StatusCode, a.Raw)
			continue
		}
		if resp.Header.Get("RateLimit-Limit") == "" || a.Quota == nil || a.Quota.Remaining != first.Quota.Remaining {
			t.Errorf("ip %q: limits %v %s, want the key's, quota untouched", ip, resp.Header, a.Raw)
		}
	}
	if resp, a := h.verifyFromIP(t, listed, "::ffff:203.0.113.10"); resp.StatusCode != 200 || a.Quota.Remaining != first.Quota.Remaining-1 {
		t.Errorf("listed, IPv4-mapped, after the refusals: %d %s (quota %d before)", resp.StatusCode, a.Raw, first.Quota.Remaining)
	}
	if resp, a := h.verifyFromIP(t, listed, "2001:db8::7"); resp.StatusCode != 200 {
		t.Errorf("listed IPv6: %d %s", resp.StatusCode, a.Raw)
	}
	if resp, a := h.verifyFromIP(t, open, "198.51.100.1"); resp.StatusCode != 200 {
		t.Errorf("a key without a list, any ip: %d %s", resp.StatusCode, a.Raw)
	}
	for _, key := range []string{listed, open} {
		for _, ip := range []string{"203.0.113.9:51234", "not an ip", "203.0.113.0/24"} {
			resp, a := h.verifyFromIP(t, key, ip)
			if resp.StatusCode != 400 || a.Code != "BAD_REQUEST" || !strings.Contains(a.Message, "ip must be the client's IP address") {
				t.Errorf("ip %q: %d %s", ip, resp.StatusCode, a.Raw)
			}
		}
	}
}

// TestVerifyAllowlistTokens: /v1/tokens runs the same check, through the
// verifier: no token for an address off the list.
func TestVerifyAllowlistTokens(t *testing.T) {
	h := MustServer(t)
	_, key := mustKeyFor(t, h, "ada@example.com", url.Values{"ip_allowlist": {"203.0.113.0/24"}})
	if resp, a, raw := h.postToken(t, key, `{"ip":"203.0.113.9"}`); resp.StatusCode != 200 || a.Token == "" {
		t.Fatalf("listed: %d %s", resp.StatusCode, raw)
	}
	for _, body := range []string{`{"ip":"198.51.100.1"}`, `{}`} {
		resp, _, raw := h.postToken(t, key, body)
		if resp.StatusCode != 403 || !strings.Contains(string(raw), `"code":"FORBIDDEN"`) || strings.Contains(string(raw), `"token"`) {
			t.Errorf("%s: %d %s", body, resp.StatusCode, raw)
		}
	}
	if resp, _, raw := h.postToken(t, key, `{"ip":"203.0.113.9:443"}`); resp.StatusCode != 400 || !strings.Contains(string(raw), "BAD_REQUEST") {
		t.Errorf("host:port: %d %s", resp.StatusCode, raw)
	}
}

// TestAPIKeyAllowlist: ip_allowlist through the management API: given on
// create (normalised in the answer), [] in the Key object when none,
// kept by a PATCH without it or with null, replaced by one with it,
// cleared by []; each change answers on the next verification.
func TestAPIKeyAllowlist(t *testing.T) {
	h := MustServer(t)
	root := h.mustRootKey("keys.write", "keys.read")
	acct := apiAccount(t, h, "ada@example.com")
	c := h.call("POST", "/v1/accounts/"+acct+"/keys", root, map[string]any{"name": "edge", "ip_allowlist": []string{"203.0.113.0/24", "::ffff:10.0.0.0/104", "2001:db8::1"}})
	k := decode[apiKey](t, c, 201)
	if got := strings.Join(k.IPAllowlist, " "); got != "203.0.113.0/24 10.0.0.0/8 2001:db8::1/128" {
		t.Fatalf("created with %q", got)
	}
	plain := h.call("POST", "/v1/accounts/"+acct+"/keys", root, map[string]any{"name": "plain"})
	if decode[apiKey](t, plain, 201); !strings.Contains(string(plain.Body), `"ip_allowlist":[]`) {
		t.Errorf("a key without a list: %s, want ip_allowlist []", plain.Body)
	}
	code := func(ip string) string {
		t.Helper()
		_, a := h.verifyFromIP(t, k.Secret, ip)
		return a.Code
	}
	if code("10.9.9.9") != "VALID" || code("192.0.2.1") != "FORBIDDEN" {
		t.Fatal("the created list is not in force")
	}
	steps := []struct {
		name  string
		body  string
		want  string
		codes map[string]string
	}{
		{"absent: kept", `{"name":"edge 2"}`, "203.0.113.0/24 10.0.0.0/8 2001:db8::1/128", map[string]string{"10.9.9.9": "VALID", "192.0.2.1": "FORBIDDEN"}},
		{"null: kept", `{"ip_allowlist":null}`, "203.0.113.0/24 10.0.0.0/8 2001:db8::1/128", map[string]string{"10.9.9.9": "VALID"}},
		{"replaced", `{"ip_allowlist":["192.0.2.0/24"]}`, "192.0.2.0/24", map[string]string{"10.9.9.9": "FORBIDDEN", "192.0.2.1": "VALID"}},
		{"cleared", `{"ip_allowlist":[]}`, "", map[string]string{"10.9.9.9": "VALID", "198.51.100.1": "VALID", "": "VALID"}},
	}
	for _, s := range steps {
		got := decode[apiKey](t, h.call("PATCH", "/v1/keys/"+k.ID, root, s.body), 200)
		if l := strings.Join(got.IPAllowlist, " "); l != s.want || got.IPAllowlist == nil {
			t.Errorf("%s: list %q (%#v), want %q", s.name, l, got.IPAllowlist, s.want)
		}
		if g := decode[apiKey](t, h.call("GET", "/v1/keys/"+k.ID, root, nil), 200); strings.Join(g.IPAllowlist, " ") != s.want {
			t.Errorf("%s: GET answers %q", s.name, g.IPAllowlist)
		}
		for ip, want := range s.codes {
			if c := code(ip); c != want {
				t.Errorf("%s: next verification from %q: %s, want %s", s.name, ip, c, want)
			}
		}
	}
	// A refused list changes nothing.
	if c := h.call("PATCH", "/v1/keys/"+k.ID, root, `{"ip_allowlist":["192.0.2.0/24","bad"]}`); c.Status != 422 {
		t.Fatalf("bad entry: %d %s", c.Status, c.Body)
	}
	if code("198.51.100.1") != "VALID" {
		t.Error("a refused PATCH changed the list")
	}
	// 32 is the most.
	if got := decode[apiKey](t, h.call("PATCH", "/v1/keys/"+k.ID, root, map[string]any{"ip_allowlist": cidrs(32)}), 200); len(got.IPAllowlist) != 32 {
		t.Errorf("32 entries: %d stored", len(got.IPAllowlist))
	}
}

// TestAllowlistKeyForm: the key pages' ip_allowlist textarea, on the
// new-key form and the settings form: one a line or comma-separated,
// shown normalised, errors under the field with the input kept, an edit
// in force on the next verification, a post without the field keeping
// the list.
func TestAllowlistKeyForm(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	ctx := context.Background()
	acct := accountID(t, h, "ada@example.com")

	// The new-key form has the field, and refuses a bad list under it.
	if n := b.Get("/keys/new").Doc.Find(`form[action="/keys"] textarea[name="ip_allowlist"]`).Length(); n != 1 {
		t.Fatalf("%d ip_allowlist textareas on the new-key form", n)
	}
	p := b.Submit("/keys/new", "/keys", url.Values{"name": {"edge"}, "expiry": {"30"}, "ip_allowlist": {strings.Join(cidrs(33), "\n")}})
	if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(fieldErrors(p)["ip_allowlist"], "at most 32 entries") {
		t.Fatalf("33 entries: %d %v", p.StatusCode, fieldErrors(p))
	}
	if af := p.Doc.Find(`form[action="/keys"] [autofocus]`).AttrOr("name", ""); af != "ip_allowlist" {
		t.Errorf("autofocus on %q, want the invalid field", af)
	}
	if ks, _ := h.Keys.List(ctx, acct); len(ks) != 0 {
		t.Fatalf("%d keys after a refused form", len(ks))
	}

	id, key := b.MustCreateKey("edge", url.Values{"ip_allowlist": {"203.0.113.0/24, ::ffff:10.0.0.0/104\r\n2001:db8::1"}})
	page := b.Get("/keys/" + id)
	if got := page.Doc.Find(`form[action="/keys/` + id + `"] textarea[name="ip_allowlist"]`).Text(); got != "203.0.113.0/24\n10.0.0.0/8\n2001:db8::1/128" {
		t.Errorf("settings form shows %q, want the list normalised, one a line", got)
	}
	if got := page.Doc.Find(`[data-testid="key-ip-allowlist"] li`).Length(); got != 3 {
		t.Errorf("overview lists %d entries, want 3", got)
	}
	if _, a := h.verifyFromIP(t, key, "10.1.1.1"); a.Code != "VALID" {
		t.Fatalf("created list not in force: %s", a.Raw)
	}

	// A bad entry on the settings form: under the field, with the others'.
	bad := "203.0.113.0/24\n10.1.2.3/8"
	p = b.Submit("/keys/"+id, "/keys/"+id, url.Values{"name": {" "}, "ip_allowlist": {bad}})
	got := fieldErrors(p)
	if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(got["ip_allowlist"], `"10.1.2.3/8" has bits set past its prefix length`) || got["name"] == "" {
		t.Fatalf("bad entry: %d %v", p.StatusCode, got)
	}
	if v := p.Doc.Find(`textarea[name="ip_allowlist"]`).Text(); v != bad {
		t.Errorf("textarea = %q, want the input kept", v)
	}
	if _, a := h.verifyFromIP(t, key, "10.1.1.1"); a.Code != "VALID" {
		t.Errorf("a refused form changed the list: %s", a.Raw)
	}

	// An edit is in force on the next verification.
	if p := b.Submit("/keys/"+id, "/keys/"+id, url.Values{"name": {"edge"}, "ip_allowlist": {"198.51.100.0/24"}}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d %s", p.StatusCode, alert(p))
	}
	if _, a := h.verifyFromIP(t, key, "10.1.1.1"); a.Code != "FORBIDDEN" {
		t.Errorf("after narrowing, a removed address: %s", a.Raw)
	}
	if _, a := h.verifyFromIP(t, key, "198.51.100.7"); a.Code != "VALID" {
		t.Errorf("after narrowing, the new range: %s", a.Raw)
	}
	// A post without the field (a page from before it) keeps the list.
	if p := b.Submit("/keys/"+id, "/keys/"+id, url.Values{"name": {"edge renamed"}}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("save without the field: %d %s", p.StatusCode, alert(p))
	}
	k, err := h.Keys.Get(ctx, acct, id)
	if err != nil || k.Name != "edge renamed" || len(k.IPAllowlist) != 1 || k.IPAllowlist[0].String() != "198.51.100.0/24" {
		t.Errorf("after a post without the field: %+v %v", k, err)
	}
	// Emptied: any address.
	if p := b.Submit("/keys/"+id, "/keys/"+id, url.Values{"name": {"edge"}, "ip_allowlist": {""}}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("clear: %d", p.StatusCode)
	}
	if _, a := h.verifyFromIP(t, key, "10.1.1.1"); a.Code != "VALID" {
		t.Errorf("after clearing: %s", a.Raw)
	}
	if b.Get("/keys/"+id).Doc.Find(`[data-testid="key-ip-allowlist"]`).Length() != 0 {
		t.Error("the overview still lists entries after clearing")
	}
}
