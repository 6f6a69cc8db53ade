package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Text the operator reads is refused when it holds an invisible or control
// character, with the form shown again and a message naming the field.
func TestFormsRefuseInvisibleCharacters(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	id, _ := b.MustCreateKey("k", nil)
	const want = "invisible or control character (U+202E)"
	for _, tt := range []struct {
		name      string
		page, act string
		form      url.Values
		field     string
	}{
		{"new key name", "/keys/new", "/keys", url.Values{"name": {"invoice\u202efdp.exe"}}, "The key name"},
		{"renamed key", "/keys/" + id, "/keys/" + id, url.Values{"name": {"prod\u202e"}}, "The key name"},
		{"scope", "/keys/new", "/keys", url.Values{"name": {"k2"}, "scopes": {"read wri\u202ete"}}, "A scope"},
		{"metadata", "/keys/new", "/keys", url.Values{"name": {"k2"}, "meta": {"{\"team\":\"core\u202e\"}"}}, `Metadata field "team"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := b.Submit(tt.page, tt.act, tt.form)
			if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(alert(p), tt.field) || !strings.Contains(alert(p), want) {
				t.Errorf("got %d %q", p.StatusCode, alert(p))
			}
		})
	}
	if n := b.Get("/keys").Doc.Find(`[data-testid="key-row"]`).Length(); n != 1 {
		t.Errorf("%d keys after refused creates", n)
	}

	p := h.Browser().Submit("/signup", "/signup", url.Values{"email": {"\u202eada@example.org"}, "password": {password}})
	if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(alert(p), "The email address") || !strings.Contains(alert(p), want) {
		t.Errorf("signup: got %d %q", p.StatusCode, alert(p))
	}
}
