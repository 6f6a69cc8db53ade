package server

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
)

// Keyhold's cookies, before their __Host- prefix (cookieName).
const (
	sessionCookie = "kh_session"
	csrfCookie    = "kh_csrf"
	flashCookie   = "kh_flash"
)

const (
	accountKey = "keyhold.account"
	sessionKey = "keyhold.session"
)

// cookieName is the name of Keyhold's cookie base ("kh_session",
// "kh_csrf", "kh_flash"), __Host- prefixed over https: browsers then refuse
// the cookie unless it is Secure, host-only and for path /, so a sibling
// subdomain or a plain-http answer cannot plant one of its choosing (a
// CSRF token, a session to fix).
func (s *Server) cookieName(base string) string {
	if s.secure {
		return "__Host-" + base
	}
	return base
}

// authenticate reads the session cookie and, when it names a live
// session, puts its account and session on the context. It reports whether
// one was found. A cookie that does not check out is cleared.
func (s *Server) authenticate(c echo.Context) (bool, error) {
	ck, err := c.Cookie(s.cookieName(sessionCookie))
	if err != nil || ck.Value == "" {
		return false, nil
	}
	a, sess, err := s.auth.Authenticate(c.Request().Context(), ck.Value)
	if keyhold.ErrorCode(err) == keyhold.EUNAUTHORIZED {
		s.clearSessionCookie(c)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	c.Set(accountKey, a)
	c.Set(sessionKey, sess)
	return true, nil
}

// requireSession sends anonymous visitors to /login and marks every
// authenticated page as not to be stored by caches.
func (s *Server) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ok, err := s.authenticate(c)
		if err != nil {
			return err
		}
		if !ok {
			return c.Redirect(http.StatusSeeOther, "/login")
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return next(c)
	}
}

// optionalSession loads the session when there is one.
func (s *Server) optionalSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, err := s.authenticate(c); err != nil {
			return err
		}
		return next(c)
	}
}

// accountFrom returns the signed-in account, or nil.
func accountFrom(c echo.Context) *auth.Account {
	a, _ := c.Get(accountKey).(*auth.Account)
	return a
}

// sessionFrom returns the current session, or nil.
func sessionFrom(c echo.Context) *auth.Session {
	s, _ := c.Get(sessionKey).(*auth.Session)
	return s
}

// startSession signs a session in for account and sets its cookie.
func (s *Server) startSession(c echo.Context, accountID string) error {
	tok, exp, err := s.auth.StartSession(c.Request().Context(), accountID, c.RealIP(), c.Request().UserAgent())
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: s.cookieName(sessionCookie), Value: tok, Path: "/", Expires: exp,
		MaxAge: int(time.Until(exp).Seconds()), HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	return nil
}

func (s *Server) clearSessionCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: s.cookieName(sessionCookie), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}
