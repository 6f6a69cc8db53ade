package server_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// mustStoreMeta writes a key's meta column with raw SQL, as an older
// version or a hand edit might have left it; Keyhold itself refuses these.
func (h *harness) mustStoreMeta(keyID, meta string) {
	h.t.Helper()
	// "sqlite" is the database/sql driver the store registers (glebarez/go-sqlite).
	db, err := sql.Open("sqlite", "file:"+h.DBPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		h.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), "UPDATE api_keys SET meta = ? WHERE id = ?", meta, keyID); err != nil {
		h.t.Fatal(err)
	}
}

func TestKeyMetaThatDoesNotRoundTripIsRefused(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	id, _ := b.MustCreateKey("k", nil)
	for _, tt := range []struct{ meta, field string }{
		{`{"a":1e999}`, `"a"`},
		{`{"team":"core","ids":[9007199254740993]}`, `"ids[0]"`},
	} {
		for _, form := range []struct{ page, action string }{{"/keys/new", "/keys"}, {"/keys/" + id, "/keys/" + id}} {
			p := b.Submit(form.page, form.action, url.Values{"name": {"k"}, "meta": {tt.meta}})
			if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(alert(p), tt.field) || !strings.Contains(alert(p), "Metadata") {
				t.Errorf("POST %s meta %s: %d %q", form.action, tt.meta, p.StatusCode, alert(p))
			}
			if got := p.Doc.Find(`textarea[name="meta"]`).Text(); got != tt.meta {
				t.Errorf("POST %s: the form shows meta %q, want what was typed, %q", form.action, got, tt.meta)
			}
		}
	}
	if n := b.Get("/keys").Doc.Find(`[data-testid="key-row"]`).Length(); n != 1 {
		t.Errorf("%d keys after refused creates", n)
	}
}

// A key whose stored metadata breaks today's rules (written before them, or
// by hand) used to answer 500 on every page that lists it and 503 on every
// verify; its owner could neither edit nor revoke it. Each read now passes
// the stored text through.
func TestKeyWithUnreadableStoredMetaStillWorks(t *testing.T) {
	const stored = `{"big":1e999,"team":"core"}`
	h := MustServer(t)
	op := h.MustAdmin("op@example.com")
	b := h.Browser()
	b.MustSignup("ada@example.com")
	editID, editSecret := b.MustCreateKey("edit me", url.Values{"scopes": {"read"}, "meta": {`{"team":"core"}`}})
	revokeID, revokeSecret := b.MustCreateKey("revoke me", nil)
	h.mustStoreMeta(editID, stored)
	h.mustStoreMeta(revokeID, stored)

	for _, path := range []string{"/dashboard", "/keys", "/keys/" + editID, "/keys/" + revokeID} {
		b.mustPage(path)
	}
	p := b.mustPage("/keys/" + editID)
	if got := p.Doc.Find(`pre[data-testid="key-meta"]`).Text(); !strings.Contains(got, "1e999") || !strings.Contains(got, `"team": "core"`) {
		t.Errorf("the key page shows meta %q, want it as stored", got)
	}
	if got := p.Doc.Find(`textarea[name="meta"]`).Text(); got != stored {
		t.Errorf("the settings form holds meta %q, want %q", got, stored)
	}
	for _, path := range []string{"/admin", "/admin/keys", "/admin/keys/" + editID, "/admin/accounts/" + accountID(t, h, "ada@example.com")} {
		op.mustPage(path)
	}

	resp, a := h.postVerify(t, verifyJSON(editSecret, `,"scopes":["read"]`), nil)
	if resp.StatusCode != http.StatusOK || !a.Valid || a.KeyID != editID || a.Name != "edit me" || strings.Join(a.Scopes, ",") != "read" {
		t.Fatalf("verify: %d %s", resp.StatusCode, a.Raw)
	}
	if a.Meta["team"] != "core" || a.Meta["big"] != "1e999" {
		t.Errorf("verify meta: %s", a.Raw)
	}

	// Saving the form as it stands names the bad field instead of failing.
	p = b.Submit("/keys/"+editID, "/keys/"+editID, url.Values{"name": {"edit me"}, "scopes": {"read"}, "meta": {stored}})
	if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(alert(p), `"big"`) {
		t.Errorf("save unchanged: %d %q", p.StatusCode, alert(p))
	}
	p = b.Submit("/keys/"+editID, "/keys/"+editID, url.Values{"name": {"edited"}, "scopes": {"read"}, "meta": {`{"team":"core","big":"1e999"}`}})
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d %q", p.StatusCode, alert(p))
	}
	if _, a := h.postVerify(t, verifyJSON(editSecret, ""), nil); !a.Valid || a.Name != "edited" || a.Meta["big"] != "1e999" {
		t.Errorf("verify after the edit: %s", a.Raw)
	}

	p = b.Submit("/keys/"+revokeID, "/keys/"+revokeID+"/revoke", url.Values{})
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d %q", p.StatusCode, alert(p))
	}
	if _, a := h.postVerify(t, verifyJSON(revokeSecret, ""), nil); a.Valid || a.Code != "REVOKED" {
		t.Errorf("verify after revoke: %s", a.Raw)
	}
	b.mustPage("/keys/" + revokeID)
}
