package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/keyhold/keyhold/internal/audit"
)

// fieldErrors returns the messages shown under the inputs of a page,
// input name → message, from the inputs' aria-describedby.
func fieldErrors(p *page) map[string]string {
	got := map[string]string{}
	p.Doc.Find(`[aria-invalid="true"]`).Each(func(_ int, in *goquery.Selection) {
		for _, id := range strings.Fields(in.AttrOr("aria-describedby", "")) {
			if msg := p.Doc.Find("#" + id); msg.AttrOr("role", "") == "alert" {
				got[in.AttrOr("name", "")] = strings.TrimSpace(msg.Text())
			}
		}
	})
	return got
}

// TestKeyCreateShowsEveryErrorAtOnce is issue 12 journey 6: an empty
// name, a bad scope and bad JSON took three submits; now one shows three
// messages, keeps the input, and creates nothing.
func TestKeyCreateShowsEveryErrorAtOnce(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	form := url.Values{"name": {" "}, "scopes": {"read, <b>"}, "meta": {`{"team": `}, "expiry": {"30"}}
	p := b.Submit("/keys/new", "/keys", form)
	if p.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", p.StatusCode)
	}
	got := fieldErrors(p)
	for name, want := range map[string]string{"name": "Give the key a name", "scopes": "not valid", "meta": "JSON object"} {
		if !strings.Contains(got[name], want) {
			t.Errorf("%s: message %q, want %q (all: %v)", name, got[name], want, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("%d fields marked, want 3: %v", len(got), got)
	}
	if v := p.Doc.Find(`input[name="scopes"]`).AttrOr("value", ""); v != "read, <b>" {
		t.Errorf("scopes = %q, want the input kept", v)
	}
	if v := p.Doc.Find(`input[name="expiry"][checked]`).AttrOr("value", ""); v != "30" {
		t.Errorf("expiry = %q, want the choice kept", v)
	}
	if af := p.Doc.Find(`form[action="/keys"] [autofocus]`); af.Length() != 1 || af.AttrOr("name", "") != "name" {
		t.Errorf("autofocus on %q, want the first invalid field", af.AttrOr("name", ""))
	}
	ks, err := h.Keys.List(context.Background(), accountID(t, h, "ada@example.com"))
	if err != nil || len(ks) != 0 {
		t.Errorf("%d keys after an invalid form (%v)", len(ks), err)
	}
}

func TestKeySettingsShowEveryErrorAtOnce(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	id, _ := b.MustCreateKey("Production", url.Values{"scopes": {"read"}})
	p := b.Submit("/keys/"+id, "/keys/"+id, url.Values{"name": {"Renamed"}, "scopes": {"a b!"}, "meta": {"[]"}, "expires": {"2001-01-01"}})
	if p.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", p.StatusCode)
	}
	got := fieldErrors(p)
	for name, want := range map[string]string{"scopes": "not valid", "meta": "JSON object", "expires": "future"} {
		if !strings.Contains(got[name], want) {
			t.Errorf("%s: message %q, want %q (all: %v)", name, got[name], want, got)
		}
	}
	if v := p.Doc.Find(`input[name="name"]`).AttrOr("value", ""); v != "Renamed" {
		t.Errorf("name = %q, want the input kept", v)
	}
	k, err := h.Keys.Get(context.Background(), accountID(t, h, "ada@example.com"), id)
	if err != nil || k.Name != "Production" || strings.Join(k.Scopes, ",") != "read" || k.ExpiresAt != nil {
		t.Errorf("key changed by an invalid form: %+v %v", k, err)
	}
}

func TestKeyCreateExpiryPreset(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	acct := accountID(t, h, "ada@example.com")
	page := b.Get("/keys/new")
	if v := page.Doc.Find(`input[name="expiry"][checked]`).AttrOr("value", ""); v != "30" {
		t.Errorf("the form pre-selects %q, want 30 days", v)
	}
	before := time.Now()
	id, _ := b.MustCreateKey("Seven", url.Values{"expiry": {"7"}})
	k, err := h.Keys.Get(context.Background(), acct, id)
	if err != nil || k.ExpiresAt == nil {
		t.Fatalf("key %+v %v, want an expiry", k, err)
	}
	// Through the whole UTC day seven days from today.
	if y, m, d := before.UTC().Date(); !k.ExpiresAt.Equal(time.Date(y, m, d+8, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("expires %v, want the end of the day 7 days from %v", k.ExpiresAt, before.UTC())
	}
	// Saving the settings form unchanged keeps that expiry.
	settings := b.Get("/keys/" + id).Doc.Find(`form[data-testid="key-settings-form"]`)
	form := url.Values{}
	settings.Find("input[name], textarea[name]").Each(func(_ int, in *goquery.Selection) {
		if n := in.AttrOr("name", ""); n != "_csrf" {
			form.Set(n, in.AttrOr("value", in.Text()))
		}
	})
	if r := b.Submit("/keys/"+id, "/keys/"+id, form); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving unchanged settings: %d %v", r.StatusCode, fieldErrors(r))
	}
	if k2, _ := h.Keys.Get(context.Background(), acct, id); !k2.ExpiresAt.Equal(*k.ExpiresAt) {
		t.Errorf("saving unchanged settings moved the expiry from %v to %v", k.ExpiresAt, k2.ExpiresAt)
	}
	id, _ = b.MustCreateKey("Forever", url.Values{"expiry": {"never"}, "expires": {"2030-01-01"}})
	if k, _ := h.Keys.Get(context.Background(), acct, id); k.ExpiresAt != nil {
		t.Errorf("never: expires %v", k.ExpiresAt)
	}
}

func TestKeyNewSuggestsScopesInUse(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	if b.Get("/keys/new").Doc.Find(`[data-testid="scope-suggestions"]`).Length() != 0 {
		t.Error("suggestions before any key has scopes")
	}
	b.MustCreateKey("one", url.Values{"scopes": {"read, write"}})
	b.MustCreateKey("two", url.Values{"scopes": {"read"}})
	var got []string
	b.Get("/keys/new").Doc.Find(`[data-scope-add]`).Each(func(_ int, s *goquery.Selection) { got = append(got, s.AttrOr("data-scope-add", "")) })
	if strings.Join(got, " ") != "read write" {
		t.Errorf("suggested %q, want read write", got)
	}
}

func TestKeyRotateFormDefaultsToADay(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	id, _ := b.MustCreateKey("Production", nil)
	p := b.Get("/keys/" + id)
	rotate := p.Doc.Find(`form[action="/keys/` + id + `/rotate"]`)
	var values []string
	rotate.Find("option").Each(func(_ int, o *goquery.Selection) { values = append(values, o.AttrOr("value", "")) })
	if strings.Join(values, " ") != "0 1h 24h 168h" {
		t.Errorf("grace options %q, want keys.GracePeriods", values)
	}
	if v := rotate.Find("option[selected]").AttrOr("value", ""); v != "24h" {
		t.Errorf("pre-selected grace %q, want 24h", v)
	}
	if rotate.AttrOr("data-confirm", "") == "" {
		t.Error("rotate has no confirm step")
	}
	if got := p.Doc.Find(`[data-testid="key-id"]`).Text(); got != id {
		t.Errorf("key id shown %q, want %q", got, id)
	}
}

// TestKeyExpireOldSecret: after a rotation with grace the key page says
// until when the previous secret works; "expire it now" makes it answer
// EXPIRED on the next verification, is audited, and is the owner's only.
func TestKeyExpireOldSecret(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	id, old := b.MustCreateKey("Production", nil)
	if b.Get("/keys/"+id).Doc.Find(`[data-testid="old-secret"]`).Length() != 0 {
		t.Error("an old secret is shown before any rotation")
	}
	p := b.Submit("/keys/"+id, "/keys/"+id+"/rotate", url.Values{"grace": {"24h"}})
	current := p.Doc.Find(`[data-testid="new-key"]`).Text()
	if p.StatusCode != http.StatusOK || current == "" {
		t.Fatalf("rotate: %d %q", p.StatusCode, alert(p))
	}
	if resp, a := h.postVerify(t, verifyJSON(old, ""), nil); resp.StatusCode != http.StatusOK || a.Code != "VALID" {
		t.Fatalf("old secret in its grace: %d %s", resp.StatusCode, a.Raw)
	}
	page := b.Get("/keys/" + id)
	until := page.Doc.Find(`[data-testid="old-secret-until"]`)
	if !strings.Contains(until.AttrOr("title", ""), "UTC") || until.AttrOr("datetime", "") == "" {
		t.Errorf("old secret until %q (title %q)", until.Text(), until.AttrOr("title", ""))
	}

	// Another account cannot end it, nor can a post without the CSRF token.
	bob := h.Browser()
	bob.MustSignup("bob@example.com")
	tok := bob.Get("/keys/new").Doc.Find(`input[name="_csrf"]`).AttrOr("value", "")
	if r := bob.Post("/keys/"+id+"/expire-old-secret", url.Values{"_csrf": {tok}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("bob's expire: %d, want 404", r.StatusCode)
	}
	if r := b.Post("/keys/"+id+"/expire-old-secret", url.Values{}); r.StatusCode != http.StatusForbidden {
		t.Errorf("expire without CSRF: %d, want 403", r.StatusCode)
	}
	if resp, a := h.postVerify(t, verifyJSON(old, ""), nil); resp.StatusCode != http.StatusOK || a.Code != "VALID" {
		t.Fatalf("old secret after refused expires: %d %s", resp.StatusCode, a.Raw)
	}

	r := b.Submit("/keys/"+id, "/keys/"+id+"/expire-old-secret", url.Values{})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/keys/"+id {
		t.Fatalf("expire: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	if resp, a := h.postVerify(t, verifyJSON(old, ""), nil); resp.StatusCode != http.StatusUnauthorized || a.Code != "EXPIRED" {
		t.Errorf("old secret after expire now: %d %s, want 401 EXPIRED", resp.StatusCode, a.Raw)
	}
	if resp, a := h.postVerify(t, verifyJSON(current, ""), nil); resp.StatusCode != http.StatusOK || a.Code != "VALID" {
		t.Errorf("current secret after expire now: %d %s", resp.StatusCode, a.Raw)
	}
	page = b.Get("/keys/" + id)
	if page.Doc.Find(`[data-testid="old-secret"]`).Length() != 0 {
		t.Error("the page still shows the old secret's grace")
	}
	if !strings.Contains(alert(page), "previous secret no longer works") {
		t.Errorf("flash = %q", alert(page))
	}
	entries, err := h.DB.KeyAudit(context.Background(), accountID(t, h, "ada@example.com"), id, 50)
	if err != nil || entries[0].Action != audit.KeyOldSecretExpired {
		t.Errorf("newest audit entry %+v (%v), want %s", entries[0], err, audit.KeyOldSecretExpired)
	}
	// Again: nothing to expire, said plainly.
	tok = page.Doc.Find(`input[name="_csrf"]`).AttrOr("value", "")
	if r := b.Post("/keys/"+id+"/expire-old-secret", url.Values{"_csrf": {tok}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("second expire: %d", r.StatusCode)
	}
	if got := alert(b.Get("/keys/" + id)); !strings.Contains(got, "nothing to expire") {
		t.Errorf("second expire says %q", got)
	}
}

func TestRevokedKeyShowsSummary(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	id, secret := b.MustCreateKey("Production", nil)
	for range 3 {
		h.postVerify(t, verifyJSON(secret, ""), nil)
	}
	if err := h.Verifier.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := b.Submit("/keys/"+id, "/keys/"+id+"/revoke", url.Values{}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.StatusCode)
	}
	p := b.Get("/keys/" + id)
	sum := p.Doc.Find(`[data-testid="revoked-summary"]`)
	if !strings.Contains(sum.Text(), "by you") {
		t.Errorf("summary %q does not say who revoked", strings.Join(strings.Fields(sum.Text()), " "))
	}
	if got := sum.Find(`[data-testid="usage-to-date"]`).Text(); got != "3" {
		t.Errorf("usage to date %q, want 3", got)
	}
	if p.Doc.Find(`[data-testid="key-settings-form"], form[action="/keys/`+id+`/rotate"]`).Length() != 0 {
		t.Error("a revoked key shows settings or rotate")
	}
}

func TestSignupShowsBothErrorsAtOnce(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	p := b.Submit("/signup", "/signup", url.Values{"email": {"not-an-email"}, "password": {"short"}})
	if p.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", p.StatusCode)
	}
	got := fieldErrors(p)
	if !strings.Contains(got["email"], "valid email") || !strings.Contains(got["password"], "at least 10") {
		t.Errorf("field errors %v, want email and password", got)
	}
	if v := p.Doc.Find(`input[name="email"]`).AttrOr("value", ""); v != "not-an-email" {
		t.Errorf("email = %q, want the input kept", v)
	}
	if af := p.Doc.Find(`[autofocus]`); af.Length() != 1 || af.AttrOr("name", "") != "email" {
		t.Errorf("autofocus on %q, want email", af.AttrOr("name", ""))
	}
	if _, err := h.DB.UserByEmail(context.Background(), "not-an-email"); err == nil {
		t.Error("an account was created")
	}
}

func TestPasswordChangeShowsErrorsUnderFields(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	p := b.Submit("/account", "/account/password", url.Values{"current_password": {""}, "password": {"short"}})
	got := fieldErrors(p)
	if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(got["current_password"], "current password") || !strings.Contains(got["password"], "at least 10") {
		t.Errorf("%d, field errors %v, want both fields", p.StatusCode, got)
	}
	p = b.Submit("/account", "/account/password", url.Values{"current_password": {"wrong password here"}, "password": {"a much better passphrase"}})
	if got := fieldErrors(p); p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(got["current_password"], "not right") || len(got) != 1 {
		t.Errorf("%d, field errors %v, want the current password's", p.StatusCode, got)
	}
	if af := p.Doc.Find(`form[action="/account/password"] [autofocus]`); af.AttrOr("name", "") != "current_password" {
		t.Errorf("autofocus on %q", af.AttrOr("name", ""))
	}
}
