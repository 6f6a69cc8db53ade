package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestSecurityHeadersOnEveryPage(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	anon := []string{"/signup", "/login", "/nope", "/healthz", "/metrics", "/static/css/app.css"}
	for _, path := range anon {
		checkHeaders(t, path, b.Get(path))
	}
	b.MustSignup("ada@example.com")
	for _, path := range []string{"/dashboard", "/account", "/nope"} {
		p := b.Get(path)
		checkHeaders(t, path, p)
		if path != "/nope" && p.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", path, p.Header.Get("Cache-Control"))
		}
	}
}

func checkHeaders(t *testing.T, path string, p *page) {
	t.Helper()
	want := map[string]string{
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "strict-origin-when-cross-origin",
	}
	for k, v := range want {
		if got := p.Header.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", path, k, got, v)
		}
	}
	csp := p.Header.Get("Content-Security-Policy")
	for _, part := range []string{"default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'",
		"form-action 'self' https://checkout.stripe.com https://billing.stripe.com"} {
		if !strings.Contains(csp, part) {
			t.Errorf("%s: CSP %q lacks %q", path, csp, part)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: CSP allows unsafe code: %q", path, csp)
	}
}

func TestCSRF(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	b.Get("/account") // sets the CSRF cookie
	good, _ := b.Get("/account").Doc.Find(`form[action="/account/password"] input[name="_csrf"]`).Attr("value")
	other := h.Browser()
	otherTok, _ := other.Get("/login").Doc.Find(`input[name="_csrf"]`).Attr("value")

	tests := []struct {
		name, path, token, fetchSite string
	}{
		{"logout without token", "/logout", "", ""},
		{"password change without token", "/account/password", "", ""},
		{"another browser's token", "/logout", otherTok, ""},
		{"cross-site with a valid token", "/logout", good, "cross-site"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"current_password": {password}, "password": {"a brand new password"}}
			if tt.token != "" {
				form.Set("_csrf", tt.token)
			}
			b.header.Set("Sec-Fetch-Site", tt.fetchSite)
			p := b.Post(tt.path, form)
			b.header.Del("Sec-Fetch-Site")
			if p.StatusCode != http.StatusForbidden {
				t.Errorf("got %d, want 403", p.StatusCode)
			}
			if p := b.Get("/dashboard"); p.StatusCode != http.StatusOK {
				t.Fatalf("a refused POST changed the session: %d", p.StatusCode)
			}
		})
	}
	if _, err := h.Auth.Login(context.Background(), "ada@example.com", password, "x"); err != nil {
		t.Errorf("a refused POST changed the password: %v", err)
	}
	// Anonymous forms are protected too.
	if p := h.Browser().Post("/signup", url.Values{"email": {"x@example.com"}, "password": {password}}); p.StatusCode != http.StatusForbidden {
		t.Errorf("signup without token: %d", p.StatusCode)
	}
	if p := h.Browser().Post("/login", url.Values{"email": {"ada@example.com"}, "password": {password}}); p.StatusCode != http.StatusForbidden {
		t.Errorf("login without token: %d", p.StatusCode)
	}
}

func TestAnonymousPortalPagesRedirectToLogin(t *testing.T) {
	h := MustServer(t)
	for _, path := range []string{"/dashboard", "/account"} {
		p := h.Browser().Get(path)
		if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/login" {
			t.Errorf("%s: %d %s", path, p.StatusCode, p.Header.Get("Location"))
		}
	}
	// A garbage cookie is treated as none and cleared.
	b := h.Browser()
	u, _ := url.Parse(h.URL)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "kh_session", Value: "garbage"}})
	if p := b.Get("/dashboard"); p.StatusCode != http.StatusSeeOther {
		t.Errorf("garbage cookie: %d", p.StatusCode)
	}
}

func TestErrorPages(t *testing.T) {
	h := MustServer(t)
	p := h.Browser().Get("/no-such-page")
	if p.StatusCode != http.StatusNotFound || !strings.Contains(p.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("404: %d %s", p.StatusCode, p.Header.Get("Content-Type"))
	}
	if !strings.Contains(p.Body, "/static/css/app.css") {
		t.Error("404 page is not in the product's look")
	}
	if p := h.Browser().Get("/v1/nothing"); p.StatusCode != http.StatusNotFound || !strings.Contains(p.Body, `"code":"NOT_FOUND"`) ||
		p.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("API 404 is not a problem: %d %s %s", p.StatusCode, p.Header.Get("Content-Type"), p.Body)
	}
}

func TestBodyLimit(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	big := url.Values{"email": {strings.Repeat("a", 100<<10)}, "password": {"x"}}
	if p := b.Post("/login", big); p.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("100 KiB login: %d", p.StatusCode)
	}
	if p := b.Get("/login"); p.StatusCode != http.StatusOK {
		t.Errorf("server unwell after a big body: %d", p.StatusCode)
	}
}

func TestOperations(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	if p := b.Get("/healthz"); p.StatusCode != http.StatusOK {
		t.Errorf("healthz: %d", p.StatusCode)
	}
	if p := b.Get("/readyz"); p.StatusCode != http.StatusOK {
		t.Errorf("readyz: %d", p.StatusCode)
	}
	b.Get("/login")
	p := b.Get("/metrics")
	for _, want := range []string{`keyhold_http_requests_total{method="GET",route="/login",status="200"} 1`, "keyhold_http_request_duration_seconds_bucket", "go_goroutines"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if !strings.Contains(h.log.String(), `"request_id"`) || !strings.Contains(h.log.String(), `"route":"/login"`) {
		t.Errorf("request log lacks request id or route: %s", h.log.String())
	}

	h.DB.Close()
	if p := b.Get("/readyz"); p.StatusCode != http.StatusServiceUnavailable || p.Header.Get("Retry-After") == "" {
		t.Errorf("readyz with the database closed: %d", p.StatusCode)
	}
	if p := b.Get("/healthz"); p.StatusCode != http.StatusOK {
		t.Errorf("healthz must not depend on the database: %d", p.StatusCode)
	}
}
