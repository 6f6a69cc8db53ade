package server

import (
	"encoding/gob"
	"net/http"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/templates"
)

func init() { gob.Register(templates.Flash{}) }

// newFlashStore returns the signed and encrypted cookie store that carries
// one-time messages across a redirect.
func newFlashStore(secret []byte, secure bool) *sessions.CookieStore {
	st := sessions.NewCookieStore(auth.DeriveKey(secret, "flash-hash"), auth.DeriveKey(secret, "flash-block"))
	st.Options = &sessions.Options{Path: "/", MaxAge: 300, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
	return st
}

// addFlash queues a message for the next page this browser renders.
func (s *Server) addFlash(c echo.Context, kind, message string) {
	sess, _ := s.flash.Get(c.Request(), s.cookieName(flashCookie)) // a bad cookie gives a fresh session
	sess.AddFlash(templates.Flash{Kind: kind, Message: message})
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		s.log.Error("save flash", "err", err)
	}
}

// takeFlashes returns and clears the queued messages.
func (s *Server) takeFlashes(c echo.Context) []templates.Flash {
	ck, err := c.Cookie(s.cookieName(flashCookie))
	if err != nil || ck.Value == "" {
		return nil
	}
	sess, _ := s.flash.Get(c.Request(), s.cookieName(flashCookie))
	raw := sess.Flashes()
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		s.log.Error("clear flash", "err", err)
	}
	out := make([]templates.Flash, 0, len(raw))
	for _, f := range raw {
		if fl, ok := f.(templates.Flash); ok {
			out = append(out, fl)
		}
	}
	return out
}
