package server

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/keyhold"
)

const (
	csrfCookie = "kh_csrf"
	csrfField  = "_csrf"
	csrfKey    = "keyhold.csrf"
)

// csrf protects every state-changing request of the portal with a
// double-submitted token: a random value in an HttpOnly, SameSite=Lax
// cookie that each form repeats in its hidden _csrf field. A POST without
// the field, or with another value, is refused with 403. Cross-site
// requests (Sec-Fetch-Site: cross-site) are refused even with a token.
func (s *Server) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		token := ""
		if ck, err := c.Cookie(csrfCookie); err == nil && len(ck.Value) == 43 {
			token = ck.Value
		}
		if token == "" {
			b := make([]byte, 32)
			_, _ = rand.Read(b)
			token = base64.RawURLEncoding.EncodeToString(b)
			c.SetCookie(&http.Cookie{Name: csrfCookie, Value: token, Path: "/", HttpOnly: true,
				Secure: s.secure, SameSite: http.SameSiteLaxMode})
		}
		c.Set(csrfKey, token)
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if c.Request().Header.Get("Sec-Fetch-Site") == "cross-site" {
			return errCSRF
		}
		sent := c.FormValue(csrfField)
		if sent == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(token)) != 1 {
			return errCSRF
		}
		return next(c)
	}
}

var errCSRF = &keyhold.Error{Code: keyhold.EFORBIDDEN, Message: "This form has expired or did not come from Keyhold. Go back, reload the page and try again."}

// csrfToken returns the token forms on this page must carry.
func csrfToken(c echo.Context) string {
	t, _ := c.Get(csrfKey).(string)
	return t
}
