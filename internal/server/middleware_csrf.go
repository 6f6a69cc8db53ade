package server

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/keyhold"
)

const (
	csrfField  = "_csrf"
	csrfHeader = "X-CSRF-Token"
	csrfKey    = "keyhold.csrf"
)

// csrf protects every state-changing request of the portal twice:
//
//   - The request must come from Keyhold's own pages as far as the browser
//     tells (fromOwnOrigin): Sec-Fetch-Site same-origin or none, else an
//     Origin (or Referer) on the base URL's origin. SameSite=Lax alone lets
//     a sibling subdomain post, and a token alone fails once leaked.
//   - It must repeat a double-submitted token: a random value in an
//     HttpOnly, SameSite=Lax cookie, sent back in the form's hidden _csrf
//     field or in an X-CSRF-Token header. Never from the query string: a
//     token in a URL reaches logs, history and Referer headers.
//
// Either failing is a 403. Pages carry the token masked (csrfToken), a new
// way on every response, because pages are gzip-compressed: a token that
// is the same on every page, beside text an attacker can put in the page
// (a search box's value), could be guessed a character at a time from the
// compressed lengths (BREACH).
func (s *Server) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		token := ""
		if ck, err := c.Cookie(s.cookieName(csrfCookie)); err == nil && len(ck.Value) == 43 {
			token = ck.Value
		}
		if token == "" {
			b := make([]byte, 32)
			_, _ = rand.Read(b)
			token = base64.RawURLEncoding.EncodeToString(b)
			c.SetCookie(&http.Cookie{Name: s.cookieName(csrfCookie), Value: token, Path: "/", HttpOnly: true,
				Secure: s.secure, SameSite: http.SameSiteLaxMode})
		}
		c.Set(csrfKey, token)
		r := c.Request()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if !s.fromOwnOrigin(r) {
			return errCSRF
		}
		sent := r.Header.Get(csrfHeader)
		if sent == "" {
			sent = r.PostFormValue(csrfField) // the body only, unlike FormValue
		}
		if !csrfMatches(sent, token) {
			return errCSRF
		}
		return next(c)
	}
}

// fromOwnOrigin reports whether the browser says a request came from a
// page of the base URL's origin. Sec-Fetch-Site decides when present (all
// current browsers send it): same-origin, or none for a user's own action;
// same-site (a sibling subdomain), cross-site and anything unknown are
// refused. Without it, Origin, else Referer, must be on the base URL's
// origin; comparing with the configured base URL rather than the Host
// header keeps a proxy-rewritten Host from vouching for itself. A request
// with none of the three (a non-browser client, an old browser) is left
// to the token.
func (s *Server) fromOwnOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o) // "null" (an opaque origin) parses with no host
		return err == nil && originOf(u) == s.origin
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		return err == nil && originOf(u) == s.origin
	}
	return true
}

// originOf is u's origin as a browser writes it: lower-case scheme and
// host, the scheme's default port left out; "" when u has no host.
func originOf(u *url.URL) string {
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	host := strings.ToLower(u.Host)
	if port := u.Port(); (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		host = strings.ToLower(u.Hostname())
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + host
}

var errCSRF = &keyhold.Error{Code: keyhold.EFORBIDDEN, Message: "This form has expired or did not come from Keyhold. Go back, reload the page and try again."}

// csrfToken returns the token forms on this page must carry, masked: a
// random pad and the token XOR the pad, base64url, different on every
// call. Empty outside the csrf middleware.
func csrfToken(c echo.Context) string {
	t, _ := c.Get(csrfKey).(string)
	raw, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil || len(raw) == 0 {
		return ""
	}
	out := make([]byte, 2*len(raw))
	_, _ = rand.Read(out[:len(raw)]) // crypto/rand does not fail
	for i, b := range raw {
		out[len(raw)+i] = out[i] ^ b
	}
	return base64.RawURLEncoding.EncodeToString(out)
}

// csrfMatches reports whether sent, a masked token from a form or header,
// unmasks to token (the cookie's). Malformed or empty never matches.
func csrfMatches(sent, token string) bool {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) == 0 {
		return false
	}
	m, err := base64.RawURLEncoding.DecodeString(sent)
	if err != nil || len(m) != 2*len(raw) {
		return false
	}
	pad, masked := m[:len(raw)], m[len(raw):]
	got := make([]byte, len(raw))
	for i := range got {
		got[i] = pad[i] ^ masked[i]
	}
	return subtle.ConstantTimeCompare(got, raw) == 1
}
