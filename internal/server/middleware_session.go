package server

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/templates"
)

// Keyhold's cookies, before their __Host- prefix (cookieName).
const (
	sessionCookie = "kh_session"
	csrfCookie    = "kh_csrf"
	flashCookie   = "kh_flash"
)

const visitKey = "keyhold.visit"

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
// session, puts the visit (session, user, accounts) on the context. It
// reports whether one was found. A cookie that does not check out is
// cleared.
func (s *Server) authenticate(c echo.Context) (bool, error) {
	ck, err := c.Cookie(s.cookieName(sessionCookie))
	if err != nil || ck.Value == "" {
		return false, nil
	}
	v, err := s.auth.Authenticate(c.Request().Context(), ck.Value)
	if keyhold.ErrorCode(err) == keyhold.EUNAUTHORIZED {
		s.clearSessionCookie(c)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	c.Set(visitKey, v)
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

// visitFrom returns the signed-in visit, or nil.
func visitFrom(c echo.Context) *auth.Visit {
	v, _ := c.Get(visitKey).(*auth.Visit)
	return v
}

// userFrom returns the signed-in user, or nil.
func userFrom(c echo.Context) *auth.User {
	if v := visitFrom(c); v != nil {
		return v.User
	}
	return nil
}

// accountID returns the id of the account the signed-in user acts in; ""
// when there is none (requireAccount keeps such visitors off the pages
// that need one).
func accountID(c echo.Context) string {
	if v := visitFrom(c); v != nil && v.Current != nil {
		return v.Current.AccountID
	}
	return ""
}

// sessionFrom returns the current session, or nil.
func sessionFrom(c echo.Context) *auth.Session {
	if v := visitFrom(c); v != nil {
		return v.Session
	}
	return nil
}

// actorOf is who acts in this request, for the services: the user, in the
// current account with their role there, from the client's address.
func actorOf(c echo.Context) audit.Actor {
	if v := visitFrom(c); v != nil {
		return v.Actor(c.RealIP())
	}
	return audit.Actor{IP: c.RealIP()}
}

// requireAccount sends a signed-in user who belongs to no account (the
// last one they were in removed them) to the form that makes one.
func (s *Server) requireAccount(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if v := visitFrom(c); v != nil && v.Current == nil {
			s.addFlash(c, templates.FlashInfo, "You are not a member of any account now. Create one to go on, or ask a team for an invitation.")
			return redirect(c, "/accounts/new")
		}
		return next(c)
	}
}

// startSession signs a session in for a user and sets its cookie.
func (s *Server) startSession(c echo.Context, userID string) error {
	return s.startSessionIn(c, userID, "")
}

// startSessionIn is startSession with accountID (a membership of the
// user's) as the current account; "": their oldest.
func (s *Server) startSessionIn(c echo.Context, userID, accountID string) error {
	tok, exp, err := s.auth.StartSessionIn(c.Request().Context(), userID, accountID, c.RealIP(), c.Request().UserAgent())
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
