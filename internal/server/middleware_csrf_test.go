package server_test

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/server"
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

// notCookieAuthenticated are the state-changing routes that deliberately
// carry no CSRF check, each with the reason. Nothing a browser holds
// authenticates them, so a forged cross-site request gains nothing. Any
// other route, present or future, must answer 403 to a POST without a
// token (TestCSRFOnEveryStateChangingRoute).
var notCookieAuthenticated = map[string]string{
	"POST /v1/verify":                            "the API: the key in the body or header is the credential, cookies are ignored",
	"POST /v1/tokens":                            "the API: the key in the body or header is the credential, cookies are ignored",
	"POST /webhooks/stripe":                      "Stripe's signature is the credential; Stripe cannot hold a CSRF token",
	"POST /v1/accounts":                          "the management API: the root key in Authorization is the credential, cookies are ignored",
	"PATCH /v1/accounts/:id":                     "the management API: the root key in Authorization is the credential, cookies are ignored",
	"POST /v1/accounts/:id/keys":                 "the management API: the root key in Authorization is the credential, cookies are ignored",
	"PATCH /v1/keys/:id":                         "the management API: the root key in Authorization is the credential, cookies are ignored",
	"POST /v1/keys/:id/revoke":                   "the management API: the root key in Authorization is the credential, cookies are ignored",
	"POST /v1/keys/:id/rotate":                   "the management API: the root key in Authorization is the credential, cookies are ignored",
	"POST /v1/webhook_endpoints":                 "the management API: the root key in Authorization is the credential, cookies are ignored",
	"PATCH /v1/webhook_endpoints/:id":            "the management API: the root key in Authorization is the credential, cookies are ignored",
	"DELETE /v1/webhook_endpoints/:id":           "the management API: the root key in Authorization is the credential, cookies are ignored",
	"POST /v1/webhook_endpoints/:id/roll_secret": "the management API: the root key in Authorization is the credential, cookies are ignored",
	"POST /v1/webhook_endpoints/:id/test":        "the management API: the root key in Authorization is the credential, cookies are ignored",
}

// TestCSRFOnEveryStateChangingRoute takes the route table from the server
// itself, so a route added later is covered without anyone remembering to
// list it here. Each state-changing route is posted without a token by a
// signed-in browser that holds the CSRF cookie (an operator's for /admin),
// with path parameters naming a real account and key (a made-up event id
// for the reapply form): without the CSRF check the request would pass
// authentication and act or answer otherwise, so the 403 and its message
// can only come from the CSRF check.
func TestCSRFOnEveryStateChangingRoute(t *testing.T) {
	h := MustServer(t)
	dev := h.Browser()
	dev.MustSignup("ada@example.com")
	keyID, _ := dev.MustCreateKey("prod", nil)
	ops := h.MustAdmin("ops@example.com")
	adaID := accountID(t, h, "ada@example.com")
	wh, _, err := h.Webhooks.CreateEndpoint(context.Background(), audit.Actor{}, events.EndpointInput{URL: "https://example.com/hook", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	params := strings.NewReplacer(":id", keyID, ":token", "some-token", ":user_id", adaID)
	adminParams := map[string]*strings.Replacer{
		"/admin/accounts/": strings.NewReplacer(":id", adaID),
		"/admin/users/":    strings.NewReplacer(":id", adaID),
		"/admin/keys/":     params,
		"/admin/events/":   strings.NewReplacer(":id", "evt_1"),
		"/admin/webhooks/": strings.NewReplacer(":id", wh.ID, ":delivery_id", "dlv_1"),
	}

	seen := map[string]bool{}
	checked := 0
	routes := h.Handler.(*server.Server).Routes()
	sort.Slice(routes, func(i, j int) bool { return routes[i].Path+routes[i].Method < routes[j].Path+routes[j].Method })
	for _, r := range routes {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			continue
		}
		route := r.Method + " " + r.Path
		if _, ok := notCookieAuthenticated[route]; ok {
			seen[route] = true
			continue
		}
		t.Run(route, func(t *testing.T) {
			b, path := dev, params.Replace(r.Path)
			if strings.HasPrefix(r.Path, "/admin") {
				b = ops
				for prefix, rep := range adminParams {
					if strings.HasPrefix(r.Path, prefix) {
						path = rep.Replace(r.Path)
					}
				}
			}
			if strings.Contains(path, ":") || strings.Contains(path, "*") {
				t.Fatalf("no value for the parameters of %s: add one to this test", route)
			}
			if b.Get("/dashboard").StatusCode != http.StatusOK {
				t.Fatal("the browser is not signed in, so a 403 would prove nothing")
			}
			if b.Cookie("kh_csrf") == nil {
				t.Fatal("the browser holds no CSRF cookie, so a 403 would prove nothing")
			}
			// A form a browser might send, so only the missing token is wrong.
			form := url.Values{"name": {"renamed"}, "plan": {"business"}, "quota": {"5"},
				"current_password": {password}, "password": {"a brand new password"}, "email": {"x@example.com"}}
			req, _ := http.NewRequest(r.Method, h.URL+path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			p := b.do(req)
			if p.StatusCode != http.StatusForbidden || !strings.Contains(p.Body, "did not come from Keyhold") {
				t.Errorf("%s %s without a CSRF token: %d, want 403 with the CSRF message; alert %q", r.Method, path, p.StatusCode, alert(p))
			}
		})
		checked++
	}
	// The exclusions must name routes that exist: a renamed or removed
	// route would otherwise leave an entry excusing nothing, and a new
	// route by the old name would be excused unseen.
	for route := range notCookieAuthenticated {
		if !seen[route] {
			t.Errorf("%s is listed as not cookie-authenticated but is not in the route table", route)
		}
	}
	if checked < 10 {
		t.Errorf("only %d state-changing routes checked: is the route table read right?", checked)
	}
	// Nothing the refused requests asked for happened.
	if k, err := lookupKey(h, keyID); err != nil || k.RevokedAt != nil || k.Name != "prod" || k.QuotaOverride != nil {
		t.Errorf("a refused request changed the key: %+v, %v", k, err)
	}
	if e, err := h.Webhooks.Endpoint(context.Background(), wh.ID); err != nil || !e.Enabled || e.URL != "https://example.com/hook" {
		t.Errorf("a refused request changed the webhook endpoint: %+v, %v", e, err)
	}
	if p := dev.Get("/dashboard"); p.StatusCode != http.StatusOK {
		t.Errorf("a refused request ended the session: %d", p.StatusCode)
	}
}
