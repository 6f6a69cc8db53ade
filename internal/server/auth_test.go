package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/server"
	"github.com/keyhold/keyhold/internal/store"
)

func TestSignupLogoutLogin(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("Ada@Example.com")

	ck := b.Cookie("kh_session")
	if ck == nil {
		t.Fatal("no session cookie")
	}
	p := b.Get("/dashboard")
	if p.StatusCode != http.StatusOK || !strings.Contains(p.Body, "ada@example.com") {
		t.Fatalf("dashboard: %d", p.StatusCode)
	}
	if !strings.Contains(alert(p), "Welcome") {
		t.Errorf("welcome flash missing: %q", alert(p))
	}
	if p.Doc.Find(`[data-testid="empty-state"]`).Length() != 1 {
		t.Error("dashboard has no empty state")
	}

	p = b.Submit("/dashboard", "/logout", url.Values{})
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d", p.StatusCode)
	}
	if p := b.Get("/dashboard"); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/login" {
		t.Errorf("dashboard after logout: %d %s", p.StatusCode, p.Header.Get("Location"))
	}
	p = b.Submit("/login", "/login", url.Values{"email": {"ADA@example.com"}, "password": {password}})
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/dashboard" {
		t.Fatalf("login: %d %s", p.StatusCode, alert(p))
	}
	if p := b.Get("/dashboard"); p.StatusCode != http.StatusOK {
		t.Errorf("dashboard after login: %d", p.StatusCode)
	}
}

func TestSessionCookieFlags(t *testing.T) {
	for _, tt := range []struct {
		base, name string
		secure     bool
	}{
		{"http://localhost:8080", "kh_session", false},
		{"https://keys.example.com", "__Host-kh_session", true},
	} {
		t.Run(tt.base, func(t *testing.T) {
			u, _ := url.Parse(tt.base)
			h := MustServer(t, func(c *server.Config, _ *store.DB) { c.BaseURL = u })
			b := h.Browser()
			p := b.Submit("/signup", "/signup", url.Values{"email": {"a@example.com"}, "password": {password}})
			var found bool
			for _, c := range p.Cookies() {
				if c.Name != tt.name {
					continue
				}
				found = true
				if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != tt.secure || c.Path != "/" {
					t.Errorf("cookie flags: %+v", c)
				}
			}
			if !found {
				t.Errorf("no %s cookie set", tt.name)
			}
			if tt.secure && p.Header.Get("Strict-Transport-Security") == "" {
				t.Error("no HSTS over https")
			}
		})
	}
}

func TestStolenCookieDiesOnLogoutAndPasswordChange(t *testing.T) {
	h := MustServer(t)
	victim := h.Browser()
	victim.MustSignup("ada@example.com")

	steal := func() *browser {
		thief := h.Browser()
		u, _ := url.Parse(h.URL)
		thief.client.Jar.SetCookies(u, []*http.Cookie{victim.Cookie("kh_session")})
		if p := thief.Get("/dashboard"); p.StatusCode != http.StatusOK {
			t.Fatalf("copied cookie should work before logout: %d", p.StatusCode)
		}
		return thief
	}

	thief := steal()
	victim.Submit("/dashboard", "/logout", url.Values{})
	if p := thief.Get("/dashboard"); p.StatusCode != http.StatusSeeOther {
		t.Errorf("copied cookie after logout: %d", p.StatusCode)
	}

	victim.Submit("/login", "/login", url.Values{"email": {"ada@example.com"}, "password": {password}})
	thief = steal()
	p := victim.Submit("/account", "/account/password", url.Values{"current_password": {password}, "password": {"a brand new password"}})
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("password change: %d %s", p.StatusCode, alert(p))
	}
	if p := thief.Get("/dashboard"); p.StatusCode != http.StatusSeeOther {
		t.Errorf("copied cookie after password change: %d", p.StatusCode)
	}
	if p := victim.Get("/account"); p.StatusCode != http.StatusOK || !strings.Contains(alert(p), "Password changed") {
		t.Errorf("the browser that changed the password stays signed in: %d %q", p.StatusCode, alert(p))
	}
}

func TestPasswordChangeErrors(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	for _, tt := range []struct{ current, next, want string }{
		{"wrong password!!", "a brand new password", "current password is not right"},
		{password, "short", "at least 10"},
		{password, "password123", "common passwords"},
		{password, "ada@example.com1", "email address"},
		{password, password, "different"},
	} {
		p := b.Submit("/account", "/account/password", url.Values{"current_password": {tt.current}, "password": {tt.next}})
		if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(alert(p), tt.want) {
			t.Errorf("%q→%q: %d %q", tt.current, tt.next, p.StatusCode, alert(p))
		}
	}
	if p := b.Get("/dashboard"); p.StatusCode != http.StatusOK {
		t.Errorf("failed changes must keep the session: %d", p.StatusCode)
	}
}

func TestSignupRejects(t *testing.T) {
	h := MustServer(t)
	h.Browser().MustSignup("taken@example.com")
	for _, tt := range []struct {
		name, email, password string
		status                int
		want                  string
	}{
		{"duplicate", "TAKEN@example.com", password, http.StatusConflict, "already exists"},
		{"weak password", "new@example.com", "short", http.StatusUnprocessableEntity, "at least 10"},
		{"common password", "new@example.com", "password123", http.StatusUnprocessableEntity, "common passwords"},
		{"password made of the email", "new@example.com", "New@Example.com2024", http.StatusUnprocessableEntity, "email address"},
		{"password made of the service name", "new@example.com", "Keyhold!2026", http.StatusUnprocessableEntity, "Keyhold"},
		{"huge email", strings.Repeat("n", 300) + "@example.com", password, http.StatusUnprocessableEntity, "at most 254 characters"},
		{"bad email", "not-an-email", password, http.StatusUnprocessableEntity, "valid email"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := h.Browser()
			p := b.Submit("/signup", "/signup", url.Values{"email": {tt.email}, "password": {tt.password}})
			if p.StatusCode != tt.status || !strings.Contains(alert(p), tt.want) {
				t.Errorf("got %d %q", p.StatusCode, alert(p))
			}
			if v, _ := p.Doc.Find(`input[name="email"]`).Attr("value"); v != tt.email {
				t.Errorf("email not re-shown: %q", v)
			}
			if b.Cookie("kh_session") != nil {
				t.Error("a failed sign-up must not sign in")
			}
		})
	}
	if _, err := h.DB.UserByEmail(context.Background(), "new@example.com"); err != auth.ErrNotFound {
		t.Errorf("weak sign-up created an account: %v", err)
	}
	if _, err := h.DB.UserByEmail(context.Background(), "not-an-email"); err != auth.ErrNotFound {
		t.Errorf("bad sign-up created an account: %v", err)
	}
}

func TestLoginRejects(t *testing.T) {
	h := MustServer(t)
	h.Browser().MustSignup("ada@example.com")
	b := h.Browser()
	wrong := b.Submit("/login", "/login", url.Values{"email": {"ada@example.com"}, "password": {"wrong password!"}})
	unknown := b.Submit("/login", "/login", url.Values{"email": {"nobody@example.com"}, "password": {"wrong password!"}})
	if wrong.StatusCode != http.StatusUnauthorized || alert(wrong) != alert(unknown) || unknown.StatusCode != wrong.StatusCode {
		t.Errorf("wrong password %d %q vs unknown email %d %q", wrong.StatusCode, alert(wrong), unknown.StatusCode, alert(unknown))
	}
	// An email longer than any address is refused as such, before it is
	// counted or stored anywhere.
	huge := b.Submit("/login", "/login", url.Values{"email": {strings.Repeat("a", 14_000) + "@example.com"}, "password": {"wrong password!"}})
	if huge.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(alert(huge), "at most 254 characters") {
		t.Errorf("huge email: %d %q", huge.StatusCode, alert(huge))
	}
}

func TestLoginThrottledDespiteSpoofedForwardedFor(t *testing.T) {
	h := MustServer(t)
	h.Browser().MustSignup("ada@example.com")
	b := h.Browser()
	var throttled int
	for i := range 30 {
		b.header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
		p := b.Submit("/login", "/login", url.Values{"email": {"ada@example.com"}, "password": {"wrong password!"}})
		if p.StatusCode == http.StatusTooManyRequests {
			throttled++
			if !strings.Contains(alert(p), "Too many") || p.Header.Get("Retry-After") == "" {
				t.Fatalf("throttled answer: %q, Retry-After %q", alert(p), p.Header.Get("Retry-After"))
			}
		}
	}
	if throttled != 20 {
		t.Errorf("throttled %d of 30, want 20", throttled)
	}
	// The address limit is on the real peer, not the spoofed header: 50
	// failures over many accounts from "many" spoofed addresses block it.
	for i := range 50 {
		b.header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		b.Submit("/login", "/login", url.Values{"email": {fmt.Sprintf("u%d@example.com", i)}, "password": {"x"}})
	}
	p := b.Submit("/login", "/login", url.Values{"email": {"someone@example.com"}, "password": {"x"}})
	if p.StatusCode != http.StatusTooManyRequests {
		t.Errorf("address limit: %d", p.StatusCode)
	}
	if strings.Contains(h.log.String(), "wrong password!") {
		t.Error("a password reached the logs")
	}
}

func TestTrustedProxyForwardedFor(t *testing.T) {
	h := MustServer(t, func(c *server.Config, _ *store.DB) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	b := h.Browser()
	// Behind a trusted proxy, each forwarded client has its own address
	// budget: 60 failures spread over 3 clients block none of them.
	for i := range 60 {
		b.header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i%3))
		p := b.Submit("/login", "/login", url.Values{"email": {fmt.Sprintf("u%d@example.com", i)}, "password": {"x"}})
		if p.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("attempt %d throttled: the forwarded address was not used", i)
		}
	}
	b.header.Set("X-Forwarded-For", "203.0.113.0")
	for i := range 30 {
		b.Submit("/login", "/login", url.Values{"email": {fmt.Sprintf("x%d@example.com", i)}, "password": {"x"}})
	}
	if p := b.Submit("/login", "/login", url.Values{"email": {"y@example.com"}, "password": {"x"}}); p.StatusCode != http.StatusTooManyRequests {
		t.Errorf("forwarded address over its limit: %d", p.StatusCode)
	}
}

func TestLoggedInVisitorsSkipAuthPages(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	for _, path := range []string{"/", "/login", "/signup"} {
		if p := b.Get(path); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/dashboard" {
			t.Errorf("%s: %d %s", path, p.StatusCode, p.Header.Get("Location"))
		}
	}
	if p := h.Browser().Get("/"); p.Header.Get("Location") != "/signup" {
		t.Errorf("anonymous /: %s", p.Header.Get("Location"))
	}
}

// TestSignupThrottled: one address may sign up only so often; past that the
// form answers 429 with a message and Retry-After, and creates nothing.
func TestSignupThrottled(t *testing.T) {
	h := MustServer(t)
	for i := range 20 {
		h.Browser().MustSignup(fmt.Sprintf("u%d@example.com", i))
	}
	p := h.Browser().Submit("/signup", "/signup", url.Values{"email": {"u20@example.com"}, "password": {password}})
	if p.StatusCode != http.StatusTooManyRequests || !strings.Contains(alert(p), "Too many sign-ups") {
		t.Fatalf("21st sign-up: %d %q", p.StatusCode, alert(p))
	}
	if ra, err := strconv.Atoi(p.Header.Get("Retry-After")); err != nil || ra <= 0 || ra > 3600 {
		t.Errorf("Retry-After %q", p.Header.Get("Retry-After"))
	}
	if _, err := h.DB.UserByEmail(context.Background(), "u20@example.com"); err != auth.ErrNotFound {
		t.Errorf("a throttled sign-up created an account: %v", err)
	}
}

// TestPasswordChangeThrottled: wrong current passwords on the account page
// are throttled like log-ins: past the limit even the right one gets 429,
// and the session survives.
func TestPasswordChangeThrottled(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	for i := range 10 {
		p := b.Submit("/account", "/account/password", url.Values{"current_password": {"wrong password!!"}, "password": {"a brand new password"}})
		if p.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("guess %d: %d %q", i+1, p.StatusCode, alert(p))
		}
	}
	p := b.Submit("/account", "/account/password", url.Values{"current_password": {password}, "password": {"a brand new password"}})
	if p.StatusCode != http.StatusTooManyRequests || !strings.Contains(alert(p), "Too many wrong passwords") || p.Header.Get("Retry-After") == "" {
		t.Fatalf("11th try: %d %q, Retry-After %q", p.StatusCode, alert(p), p.Header.Get("Retry-After"))
	}
	if p := b.Get("/dashboard"); p.StatusCode != http.StatusOK {
		t.Errorf("the session ended: %d", p.StatusCode)
	}
	if _, err := h.Auth.Login(context.Background(), "ada@example.com", password, "192.0.2.1"); err != nil {
		t.Errorf("the password changed, or the owner elsewhere is locked out: %v", err)
	}
}
