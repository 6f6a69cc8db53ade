package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/keys"
)

// MustCreateKey creates a key through the form and returns its id and
// secret as the created page shows them.
func (b *browser) MustCreateKey(name string, extra url.Values) (string, string) {
	b.h.t.Helper()
	form := url.Values{"name": {name}}
	for k, v := range extra {
		form[k] = v
	}
	p := b.Submit("/keys/new", "/keys", form)
	if p.StatusCode != http.StatusOK {
		b.h.t.Fatalf("create key: %d %s", p.StatusCode, alert(p))
	}
	secret := p.Doc.Find(`[data-testid="new-key"]`).Text()
	if _, err := keys.Parse(secret); err != nil {
		b.h.t.Fatalf("the created page shows no valid key: %q", secret)
	}
	url, _ := p.Doc.Find(`[data-replace-url]`).Attr("data-replace-url")
	return strings.TrimPrefix(url, "/keys/"), secret
}

func TestKeyLifecycle(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	if p := b.Get("/dashboard"); p.Doc.Find(`[data-testid="empty-state"]`).Length() != 1 {
		t.Error("no empty state before the first key")
	}

	id, secret := b.MustCreateKey("Production", url.Values{"scopes": {"read, write"}, "meta": {`{"team":"core"}`}, "expires": {time.Now().AddDate(1, 0, 0).Format("2006-01-02")}})
	if id == "" {
		t.Fatal("the created page does not name the key's URL")
	}

	// Shown once: no other page carries the secret.
	for _, path := range []string{"/keys", "/keys/" + id, "/dashboard"} {
		p := b.Get(path)
		if p.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, p.StatusCode)
		}
		if strings.Contains(p.Body, secret) || p.Doc.Find(`[data-testid="new-key"]`).Length() != 0 {
			t.Errorf("%s shows the secret again", path)
		}
		if p.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s is cacheable", path)
		}
	}
	rows := b.Get("/keys").Doc.Find(`[data-testid="key-row"]`)
	if rows.Length() != 1 {
		t.Fatalf("%d key rows", rows.Length())
	}
	if v, _ := rows.Attr("data-key-id"); v != id {
		t.Errorf("row key id %q, want %q", v, id)
	}
	if !strings.Contains(rows.Text(), "Production") || !strings.Contains(rows.Text(), secret[len(secret)-4:]) {
		t.Errorf("row lacks name or last four: %q", rows.Text())
	}

	// Edit.
	p := b.Submit("/keys/"+id, "/keys/"+id, url.Values{"name": {"Prod EU"}, "scopes": {"read"}, "meta": {""}, "expires": {""}})
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", p.StatusCode, alert(p))
	}
	k, err := h.Keys.Get(context.Background(), accountID(t, h, "ada@example.com"), id)
	if err != nil || k.Name != "Prod EU" || strings.Join(k.Scopes, ",") != "read" || k.ExpiresAt != nil || string(k.Meta) != "{}" {
		t.Errorf("after edit: %+v %v", k, err)
	}
	p = b.Submit("/keys/"+id, "/keys/"+id, url.Values{"name": {""}})
	if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(alert(p), "name") {
		t.Errorf("empty name: %d %q", p.StatusCode, alert(p))
	}

	// Rotate: same id, new secret shown once, the old one listed no more.
	p = b.Submit("/keys/"+id, "/keys/"+id+"/rotate", url.Values{"grace": {"1h"}})
	newSecret := p.Doc.Find(`[data-testid="new-key"]`).Text()
	if p.StatusCode != http.StatusOK || newSecret == secret {
		t.Fatalf("rotate: %d", p.StatusCode)
	}
	if _, err := keys.Parse(newSecret); err != nil {
		t.Errorf("rotated secret does not parse")
	}
	if v, _ := p.Doc.Find(`[data-replace-url]`).Attr("data-replace-url"); v != "/keys/"+id {
		t.Errorf("rotation changed the key id: %q", v)
	}

	// Revoke.
	p = b.Submit("/keys/"+id, "/keys/"+id+"/revoke", url.Values{})
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", p.StatusCode)
	}
	p = b.Get("/keys/" + id)
	if !strings.Contains(strings.ToLower(p.Body), "revoked") {
		t.Error("detail page does not say revoked")
	}
	acts := p.Doc.Find("body").Text()
	for _, want := range []string{"Created", "Renamed", "Rotated", "Revoked"} {
		if !strings.Contains(acts, want) {
			t.Errorf("activity lacks %q", want)
		}
	}

	// Nothing of it in the logs.
	for _, s := range []string{secret, newSecret, secret[8:40], newSecret[8:40]} {
		if strings.Contains(h.log.String(), s) {
			t.Fatal("a key reached the logs")
		}
	}
}

func accountID(t *testing.T, h *harness, email string) string {
	t.Helper()
	a, err := h.DB.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

func TestKeyLimitAndBadInput(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	for _, tt := range []struct {
		name string
		form url.Values
		want string
	}{
		{"no name", url.Values{"name": {" "}}, "name"},
		{"bad meta", url.Values{"name": {"k"}, "meta": {"[1,2]"}}, "JSON object"},
		{"bad date", url.Values{"name": {"k"}, "expires": {"31/01/2099"}}, "date"},
		{"past date", url.Values{"name": {"k"}, "expires": {"2001-01-01"}}, "future"},
		{"bad scope", url.Values{"name": {"k"}, "scopes": {"read <b>"}}, "not valid"},
	} {
		p := b.Submit("/keys/new", "/keys", tt.form)
		if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(alert(p), tt.want) {
			t.Errorf("%s: %d %q", tt.name, p.StatusCode, alert(p))
		}
		if v, _ := p.Doc.Find(`input[name="name"]`).Attr("value"); v != strings.TrimSpace(tt.form.Get("name")) {
			t.Errorf("%s: name not re-shown: %q", tt.name, v)
		}
	}
	for _, n := range []string{"a", "b", "c"} {
		b.MustCreateKey(n, nil)
	}
	p := b.Submit("/keys/new", "/keys", url.Values{"name": {"fourth"}})
	if p.StatusCode != http.StatusForbidden || !strings.Contains(alert(p), "Free plan allows 3") {
		t.Errorf("fourth key: %d %q", p.StatusCode, alert(p))
	}
	if p.Doc.Find(`a[href="/billing"]`).Length() == 0 {
		t.Error("the limit message does not link to billing")
	}
	if n := b.Get("/keys").Doc.Find(`[data-testid="key-row"]`).Length(); n != 3 {
		t.Errorf("%d keys after refused create", n)
	}
}

func TestKeyIsolation(t *testing.T) {
	h := MustServer(t)
	ada := h.Browser()
	ada.MustSignup("ada@example.com")
	id, _ := ada.MustCreateKey(`<script>alert(1)</script>`, nil)
	if p := ada.Get("/keys"); strings.Contains(p.Body, `<script>alert(1)</script>`) || !strings.Contains(p.Body, "&lt;script&gt;") {
		t.Error("key name is not escaped")
	}

	bob := h.Browser()
	bob.MustSignup("bob@example.com")
	if p := bob.Get("/keys/" + id); p.StatusCode != http.StatusNotFound {
		t.Errorf("bob GET ada's key: %d", p.StatusCode)
	}
	tok, _ := bob.Get("/keys/new").Doc.Find(`input[name="_csrf"]`).Attr("value")
	for _, path := range []string{"/keys/" + id, "/keys/" + id + "/revoke", "/keys/" + id + "/rotate"} {
		p := bob.Post(path, url.Values{"_csrf": {tok}, "name": {"bob's now"}, "grace": {"0"}})
		if p.StatusCode != http.StatusNotFound {
			t.Errorf("bob POST %s: %d", path, p.StatusCode)
		}
	}
	if p := bob.Get("/keys"); p.Doc.Find(`[data-testid="key-row"]`).Length() != 0 || strings.Contains(p.Body, "alert(1)") {
		t.Error("bob sees ada's key")
	}
	k, err := h.Keys.Get(context.Background(), accountID(t, h, "ada@example.com"), id)
	if err != nil || k.RevokedAt != nil || k.Name != `<script>alert(1)</script>` {
		t.Errorf("ada's key changed: %+v %v", k, err)
	}
	if p := ada.Get("/keys/does-not-exist"); p.StatusCode != http.StatusNotFound {
		t.Errorf("unknown key id: %d", p.StatusCode)
	}
}

// DESIGN.md: the grace period the user picks defaults to none, so a rotate
// form that names no grace (a script posting only the CSRF token, or a
// form whose select was removed) rotates with none rather than failing.
func TestKeyRotateWithoutGraceStopsTheOldSecretAtOnce(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	id, secret := b.MustCreateKey("Production", nil)

	p := b.Submit("/keys/"+id, "/keys/"+id+"/rotate", url.Values{})
	newSecret := p.Doc.Find(`[data-testid="new-key"]`).Text()
	if p.StatusCode != http.StatusOK || newSecret == "" || newSecret == secret {
		t.Fatalf("rotate without grace: %d %q (Location %q)", p.StatusCode, alert(p), p.Header.Get("Location"))
	}
	if strings.Contains(p.Body, "keeps working until") {
		t.Error("the page announces a grace period nobody asked for")
	}
	if resp, a := h.postVerify(t, verifyJSON(secret, ""), nil); resp.StatusCode != http.StatusUnauthorized || a.Valid {
		t.Errorf("old secret after a rotation without grace: %d %s", resp.StatusCode, a.Raw)
	}
	if resp, a := h.postVerify(t, verifyJSON(newSecret, ""), nil); resp.StatusCode != http.StatusOK || !a.Valid || a.KeyID != id {
		t.Errorf("new secret: %d %s", resp.StatusCode, a.Raw)
	}
}

// lookupKey reads any account's key from the store, as the operator sees
// it; keys.ErrNotFound when there is none.
func lookupKey(h *harness, id string) (*keys.Key, error) {
	ks, err := h.DB.FindKeys(context.Background(), keys.KeyFilter{ID: id})
	if err != nil {
		return nil, err
	}
	if len(ks) != 1 {
		return nil, keys.ErrNotFound
	}
	return ks[0].Key, nil
}
