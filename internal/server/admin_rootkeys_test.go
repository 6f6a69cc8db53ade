package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/rootkey"
)

// TestAdminRootKeys: an operator makes a root key with a name and two
// permissions; the answer shows it once (with a copy button and the
// warning) and a reload does not; the list shows its name, display,
// permissions and "never" used, then its last use once it authenticates;
// revoked in the console, it is refused at once and listed as revoked.
// Both changes are in the audit log with the operator as actor.
func TestAdminRootKeys(t *testing.T) {
	h := MustServer(t)
	ops := h.MustAdmin("ops@example.com")
	opsID := accountID(t, h, "ops@example.com")

	p := ops.Submit("/admin/root-keys", "/admin/root-keys", url.Values{"name": {"CRM provisioning"}, "permissions": {"keys.write", "accounts.read"}})
	if p.StatusCode != http.StatusOK {
		t.Fatalf("create: %d %q", p.StatusCode, alert(p))
	}
	secret := strings.TrimSpace(p.Doc.Find(`[data-testid="new-root-key"]`).Text())
	if _, err := keys.Root.Parse(secret); err != nil {
		t.Fatalf("new-root-key %q is not a root key: %v", secret, err)
	}
	if p.Doc.Find(`[data-testid="copy-new-root-key"][data-copy-target="new-root-key"]`).Length() != 1 {
		t.Error("no copy button for the new root key")
	}
	if w := p.Doc.Find(`[data-testid="copy-warning"]`).Text(); !strings.Contains(w, "You will not see it again") {
		t.Errorf("warning %q", w)
	}
	if got := p.Doc.Find(`[data-replace-url="/admin/root-keys"]`).Length(); got != 1 {
		t.Error("the answer to the POST does not replace its address, so a reload would post again")
	}
	if strings.Count(p.Body, secret) != 1 {
		t.Errorf("the secret appears %d times in the page", strings.Count(p.Body, secret))
	}
	if strings.Contains(h.log.String(), secret) {
		t.Error("the secret is in the log")
	}

	list := ops.mustPage("/admin/root-keys")
	if strings.Contains(list.Body, secret) || list.Doc.Find(`[data-testid="new-root-key"]`).Length() != 0 {
		t.Fatal("the list shows the secret again")
	}
	rows := list.Doc.Find(`[data-testid="root-key-row"]`)
	if rows.Length() != 1 {
		t.Fatalf("%d rows", rows.Length())
	}
	if got, want := rows.Find(`[data-testid="root-key-display"]`).Text(), "kh_root_…"+secret[len(secret)-4:]; got != want {
		t.Errorf("display %q, want %q", got, want)
	}
	if got := rows.Find(`[data-testid="root-key-permissions"] li`).Map(func(_ int, s *goquery.Selection) string { return s.Text() }); strings.Join(got, " ") != "accounts.read keys.write" {
		t.Errorf("permission badges %q", got)
	}
	if got := strings.Join(strings.Fields(rows.Text()), " "); !strings.HasPrefix(got, "CRM provisioning") || !strings.Contains(got, "by ops@example.com") || !strings.Contains(got, "Last used never") {
		t.Errorf("row %q, want its name, its creator and never used", got)
	}
	id, _ := rows.Attr("data-root-key-id")

	k, err := h.RootKeys.Authenticate(context.Background(), secret)
	if err != nil || k.ID != id || !k.Has(rootkey.KeysWrite) || !k.Has(rootkey.AccountsRead) || k.Has(rootkey.KeysRead) {
		t.Fatalf("Authenticate = %+v, %v", k, err)
	}
	if got := ops.mustPage("/admin/root-keys").Doc.Find(`[data-testid="root-key-last-used"] time`).Length(); got != 1 {
		t.Error("the last use is not shown after the key was used")
	}

	p = ops.Submit("/admin/root-keys", "/admin/root-keys/"+id+"/revoke", url.Values{})
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/admin/root-keys" {
		t.Fatalf("revoke: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	list = ops.mustPage("/admin/root-keys")
	if !strings.Contains(alert(list), "revoked") || list.Doc.Find(`[data-testid="root-key-revoked"]`).Length() != 1 ||
		list.Doc.Find(`[data-testid="root-key-revoke-form"]`).Length() != 0 {
		t.Errorf("after revoke: alert %q, revoked badge %d", alert(list), list.Doc.Find(`[data-testid="root-key-revoked"]`).Length())
	}
	if _, err := h.RootKeys.Authenticate(context.Background(), secret); keyhold.ErrorCode(err) != keyhold.EUNAUTHORIZED {
		t.Errorf("revoked key authenticates: %v", err)
	}
	// Revoking again says so and changes nothing.
	p = ops.Submit("/admin/root-keys", "/admin/root-keys", url.Values{"name": {"other"}, "permissions": {"audit.read"}})
	tok, _ := p.Doc.Find(`form[action="/admin/root-keys"] input[name="_csrf"]`).Attr("value")
	if p = ops.Post("/admin/root-keys/"+id+"/revoke", url.Values{"_csrf": {tok}}); p.StatusCode != http.StatusSeeOther {
		t.Errorf("second revoke: %d", p.StatusCode)
	}
	if a := alert(ops.mustPage("/admin/root-keys")); !strings.Contains(a, "already revoked") {
		t.Errorf("second revoke says %q", a)
	}
	if p = ops.Post("/admin/root-keys/nope/revoke", url.Values{"_csrf": {tok}}); p.StatusCode != http.StatusNotFound {
		t.Errorf("revoke of no key: %d, want 404", p.StatusCode)
	}

	rs, err := h.Auth.AuditLog(context.Background(), auth.AuditQuery{Action: "root_key.", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, r := range rs {
		counts[r.Action]++
		if r.ActorID != opsID || strings.Contains(r.Detail, secret) {
			t.Errorf("entry %s by %q: %q", r.Action, r.ActorID, r.Detail)
		}
	}
	if counts[audit.RootKeyCreated] != 2 || counts[audit.RootKeyRevoked] != 1 {
		t.Errorf("audit %v, want 2 created and 1 revoked", counts)
	}
	if a := ops.mustPage("/admin/audit?action=root_key.created"); !strings.Contains(a.Body, "Created root key") {
		t.Error("the audit log does not label root_key.created")
	}
}

// TestAdminRootKeyRefusals: each bad form answers 422 with the problem
// under its field, keeps what was typed, and makes no key.
func TestAdminRootKeyRefusals(t *testing.T) {
	h := MustServer(t)
	ops := h.MustAdmin("ops@example.com")
	tests := []struct {
		name  string
		form  url.Values
		says  []string
		keeps string // a checked permission that must stay checked
	}{
		{"nothing", url.Values{}, []string{"Give the root key a name", "Choose at least one permission"}, ""},
		{"no permission", url.Values{"name": {"prod"}}, []string{"Choose at least one permission"}, ""},
		{"unknown permission", url.Values{"name": {"prod"}, "permissions": {"usage.read", "keys.delete"}}, []string{`"keys.delete"`}, "usage.read"},
		{"long name", url.Values{"name": {strings.Repeat("n", 65)}, "permissions": {"usage.read"}}, []string{"at most 64"}, "usage.read"},
		{"invisible character", url.Values{"name": {"prod\u200b"}, "permissions": {"usage.read"}}, []string{"U+200B"}, "usage.read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ops.Submit("/admin/root-keys", "/admin/root-keys", tt.form)
			if p.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("%d, want 422", p.StatusCode)
			}
			errs := p.Doc.Find(`[data-testid="field-error"]`).Text()
			for _, s := range tt.says {
				if !strings.Contains(errs, s) {
					t.Errorf("field errors %q, want %q", errs, s)
				}
			}
			if v, _ := p.Doc.Find(`input[name="name"]`).Attr("value"); v != tt.form.Get("name") {
				t.Errorf("the name became %q", v)
			}
			if tt.keeps != "" && p.Doc.Find(`input[name="permissions"][value="`+tt.keeps+`"][checked]`).Length() != 1 {
				t.Errorf("%s is no longer checked", tt.keeps)
			}
			if p.Doc.Find(`[data-testid="new-root-key"]`).Length() != 0 {
				t.Error("a refused form shows a key")
			}
		})
	}
	if ks, err := h.RootKeys.List(context.Background()); err != nil || len(ks) != 0 {
		t.Errorf("refusals made %d keys (%v)", len(ks), err)
	}
	if p := ops.mustPage("/admin/root-keys"); p.Doc.Find(`input[type="checkbox"][name="permissions"]`).Length() != len(rootkey.Permissions) {
		t.Errorf("the form has %d permission checkboxes, want %d", p.Doc.Find(`input[name="permissions"]`).Length(), len(rootkey.Permissions))
	}
}

// TestAdminRootKeysGuarded: a non-operator gets 404 for every root key
// route and makes or revokes nothing; an operator's post without the
// form's CSRF token is refused and makes nothing; a body over the console's
// limit is refused.
func TestAdminRootKeysGuarded(t *testing.T) {
	h := MustServer(t)
	ops := h.MustAdmin("ops@example.com")
	k, _, err := h.RootKeys.Create(context.Background(), audit.Actor{}, "cli", []string{rootkey.KeysRead})
	if err != nil {
		t.Fatal(err)
	}
	dev := h.Browser()
	dev.MustSignup("ada@example.com")
	tok, _ := dev.Get("/account").Doc.Find(`form[action="/account/password"] input[name="_csrf"]`).Attr("value")
	form := url.Values{"_csrf": {tok}, "name": {"mine"}, "permissions": {"keys.write"}}
	if p := dev.Get("/admin/root-keys"); p.StatusCode != http.StatusNotFound {
		t.Errorf("GET as a developer: %d", p.StatusCode)
	}
	for _, path := range []string{"/admin/root-keys", "/admin/root-keys/" + k.ID + "/revoke"} {
		if p := dev.Post(path, form); p.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s as a developer: %d, want 404", path, p.StatusCode)
		}
	}
	ks, _ := h.RootKeys.List(context.Background())
	if len(ks) != 1 || ks[0].RevokedAt != nil {
		t.Fatalf("a developer changed root keys: %+v", ks)
	}

	// The operator's own session, a token that is not the form's.
	ops.mustPage("/admin/root-keys")
	for _, tok := range []string{"", "forged"} {
		p := ops.Post("/admin/root-keys", url.Values{"_csrf": {tok}, "name": {"x"}, "permissions": {"keys.write"}})
		if p.StatusCode != http.StatusForbidden {
			t.Errorf("create with token %q: %d, want 403", tok, p.StatusCode)
		}
		if p := ops.Post("/admin/root-keys/"+k.ID+"/revoke", url.Values{"_csrf": {tok}}); p.StatusCode != http.StatusForbidden {
			t.Errorf("revoke with token %q: %d, want 403", tok, p.StatusCode)
		}
	}
	p := ops.Get("/admin/root-keys")
	tok, _ = p.Doc.Find(`form[action="/admin/root-keys"] input[name="_csrf"]`).Attr("value")
	if p := ops.Post("/admin/root-keys", url.Values{"_csrf": {tok}, "name": {strings.Repeat("n", 70<<10)}, "permissions": {"keys.write"}}); p.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a 70 KiB form: %d, want 413", p.StatusCode)
	}
	if ks, _ := h.RootKeys.List(context.Background()); len(ks) != 1 || ks[0].RevokedAt != nil {
		t.Errorf("refused posts changed root keys: %+v", ks)
	}
}

// TestVerifyRefusesRootKey: /v1/verify answers a root key, in the body or
// as a bearer token, as a malformed key (401 MALFORMED), and logs no part
// of it.
func TestVerifyRefusesRootKey(t *testing.T) {
	h := MustServer(t)
	_, secret, err := h.RootKeys.Create(context.Background(), audit.Actor{}, "api", []string{rootkey.KeysRead})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		body   string
		header map[string]string
	}{
		{"body", "", nil},
		{"bearer", "{}", map[string]string{"Authorization": "Bearer " + secret.Reveal()}},
	} {
		body := verifyJSON(secret.Reveal(), "")
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		res, a := h.postVerify(t, body, tc.header)
		if res.StatusCode != http.StatusUnauthorized || a.Code != "MALFORMED" || a.Valid || a.KeyID != "" {
			t.Errorf("%s: %d %s", tc.name, res.StatusCode, a.Code)
		}
	}
	if strings.Contains(h.log.String(), secret.Reveal()[len(keys.RootPrefix):]) {
		t.Error("the root key is in the log")
	}
}
