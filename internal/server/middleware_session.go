package server

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
)

const (
	accountKey = "keyhold.account"
	sessionKey = "keyhold.session"
)

// sessionCookieName is __Host- prefixed over https, which makes browsers
// refuse it unless it is Secure, host-only and for path /.
func (s *Server) sessionCookieName() string {
	if s.secure {
		return "__Host-kh_session"
	}
	return "kh_session"
}

// authenticate reads the session cookie and, when it names a live
// session, puts its account and session on the context. It reports whether
// one was found. A cookie that does not check out is cleared.
func (s *Server) authenticate(c echo.Context) (bool, error) {
	ck, err := c.Cookie(s.sessionCookieName())
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
	c.SetCookie(&http.Cookie{Name: s.sessionCookieName(), Value: tok, Path: "/", Expires: exp,
		MaxAge: int(time.Until(exp).Seconds()), HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	return nil
}

func (s *Server) clearSessionCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: s.sessionCookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}
