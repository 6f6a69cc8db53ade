package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestCSRFRequestChecks posts a logout (the smallest state change) in ways
// a forged or careless request would, each from a fresh signed-in browser.
// The test server is reached at 127.0.0.1 while the configured base URL is
// http://localhost:8080: Origin is compared with the base URL, the address
// a browser sees, not with the Host the request arrived on.
func TestCSRFRequestChecks(t *testing.T) {
	tests := []struct {
		name string
		// query and form say where the valid token goes; header sets
		// request headers (X-CSRF-Token: "good" is replaced by the token).
		query, form bool
		header      map[string]string
		want        int
	}{
		{name: "token in the form", form: true, want: http.StatusSeeOther},
		{name: "token in X-CSRF-Token", header: map[string]string{"X-CSRF-Token": "good"}, want: http.StatusSeeOther},
		{name: "token in the query string only", query: true, want: http.StatusForbidden},
		{name: "another value in X-CSRF-Token", header: map[string]string{"X-CSRF-Token": strings.Repeat("A", 43)}, want: http.StatusForbidden},
		{name: "same origin", form: true, header: map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost:8080"}, want: http.StatusSeeOther},
		{name: "user-typed (Sec-Fetch-Site none)", form: true, header: map[string]string{"Sec-Fetch-Site": "none"}, want: http.StatusSeeOther},
		{name: "Origin of the base URL", form: true, header: map[string]string{"Origin": "http://localhost:8080"}, want: http.StatusSeeOther},
		{name: "Referer on the base URL", form: true, header: map[string]string{"Referer": "http://localhost:8080/account"}, want: http.StatusSeeOther},
		{name: "same-site sibling", form: true, header: map[string]string{"Sec-Fetch-Site": "same-site"}, want: http.StatusForbidden},
		{name: "cross-site", form: true, header: map[string]string{"Sec-Fetch-Site": "cross-site"}, want: http.StatusForbidden},
		{name: "unknown Sec-Fetch-Site", form: true, header: map[string]string{"Sec-Fetch-Site": "weird"}, want: http.StatusForbidden},
		{name: "Origin of another site", form: true, header: map[string]string{"Origin": "https://evil.example"}, want: http.StatusForbidden},
		{name: "Origin with another scheme", form: true, header: map[string]string{"Origin": "https://localhost:8080"}, want: http.StatusForbidden},
		{name: "Origin with another port", form: true, header: map[string]string{"Origin": "http://localhost:8081"}, want: http.StatusForbidden},
		{name: "opaque Origin", form: true, header: map[string]string{"Origin": "null"}, want: http.StatusForbidden},
		{name: "Referer of another site", form: true, header: map[string]string{"Referer": "https://evil.example/localhost:8080"}, want: http.StatusForbidden},
		{name: "Origin wins over Referer", form: true, header: map[string]string{"Origin": "https://evil.example", "Referer": "http://localhost:8080/"}, want: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := MustServer(t).Browser()
			b.MustSignup("ada@example.com")
			good, _ := b.Get("/dashboard").Doc.Find(`form[action="/logout"] input[name="_csrf"]`).Attr("value")
			if good == "" {
				t.Fatal("no token on the dashboard")
			}
			form := url.Values{}
			if tt.form {
				form.Set("_csrf", good)
			}
			path := "/logout"
			if tt.query {
				path += "?_csrf=" + url.QueryEscape(good)
			}
			for k, v := range tt.header {
				if v == "good" {
					v = good
				}
				b.header.Set(k, v)
			}
			p := b.Post(path, form)
			b.header = http.Header{}
			if p.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", p.StatusCode, tt.want)
			}
			signedIn := b.Get("/dashboard").StatusCode == http.StatusOK
			if signedIn != (tt.want == http.StatusForbidden) {
				t.Errorf("signed in after the POST: %v", signedIn)
			}
		})
	}
}

// TestCookiesUseHostPrefixOverHTTPS checks that every cookie Keyhold sets
// over an https base URL is __Host- prefixed, so a sibling subdomain or a
// plain-http response cannot plant or overwrite it, and carries what the
// prefix requires (Secure, Path=/, no Domain).
func TestCookiesUseHostPrefixOverHTTPS(t *testing.T) {
	for _, tt := range []struct {
		base   string
		secure bool
	}{
		{"http://localhost:8080", false},
		{"https://keys.example.com", true},
	} {
		t.Run(tt.base, func(t *testing.T) {
			h := MustServer(t, withBaseURL(t, tt.base))
			b := h.Browser()
			seen := map[string]*http.Cookie{}
			collect := func(p *page) {
				for _, c := range p.Cookies() {
					seen[c.Name] = c
				}
			}
			collect(b.Get("/signup"))
			collect(b.Submit("/signup", "/signup", url.Values{"email": {"a@example.com"}, "password": {password}}))
			collect(b.Submit("/keys/new", "/keys", url.Values{"name": {"ci"}}))

			want := []string{"kh_csrf", "kh_session", "kh_flash"}
			for _, name := range want {
				if tt.secure {
					name = "__Host-" + name
				}
				c := seen[name]
				if c == nil {
					t.Errorf("no %s cookie among %v", name, keysOf(seen))
					continue
				}
				if c.Secure != tt.secure || c.Path != "/" || c.Domain != "" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
					t.Errorf("%s: Secure=%v Path=%q Domain=%q HttpOnly=%v SameSite=%v", name, c.Secure, c.Path, c.Domain, c.HttpOnly, c.SameSite)
				}
			}
			for name := range seen {
				if tt.secure != strings.HasPrefix(name, "__Host-") {
					t.Errorf("cookie %s: __Host- prefix should be %v", name, tt.secure)
				}
			}
		})
	}
}

func keysOf(m map[string]*http.Cookie) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
