package server

import (
	"bytes"
	"net/http"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/static"
	"github.com/keyhold/keyhold/templates"
)

// render renders a page to a buffer first, so a template failure becomes a
// clean error page instead of half a page, then writes it with status.
func render(c echo.Context, status int, page templ.Component) error {
	var buf bytes.Buffer
	if err := page.Render(c.Request().Context(), &buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// layout builds the shell data every page needs.
func (s *Server) layout(c echo.Context, title, nav string) templates.Layout {
	l := templates.Layout{
		Title:   title,
		CSRF:    csrfToken(c),
		Flashes: s.takeFlashes(c),
		Nav:     nav,
		Assets:  templates.Assets{CSS: static.URL("css/app.css"), JS: static.URL("js/app.js"), Icon: static.URL("favicon.svg")},
		Now:     time.Now().UTC(),
	}
	if v := visitFrom(c); v != nil {
		u := v.User
		l.Account = &templates.Account{UserID: u.ID, Email: u.Email, IsAdmin: u.IsAdmin,
			Unverified: s.auth.EmailEnabled() && u.EmailVerifiedAt == nil}
		if m := v.Current; m != nil {
			l.Account.ID, l.Account.Name, l.Account.Role, l.Account.Plan = m.AccountID, m.AccountName, string(m.Role), s.plans.Get(m.PlanID).Name
		}
		for _, m := range v.Memberships {
			l.Account.Accounts = append(l.Account.Accounts, templates.AccountChoice{ID: m.AccountID, Name: m.AccountName,
				Role: string(m.Role), Current: m.AccountID == l.Account.ID})
		}
	}
	return l
}

// redirect answers a POST with 303 See Other, so a reload does not resubmit.
func redirect(c echo.Context, to string) error { return c.Redirect(http.StatusSeeOther, to) }

// attachment answers body as a file download named filename (ASCII, no
// quotes: callers make it so).
func attachment(c echo.Context, contentType, filename string, body []byte) error {
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+filename+`"`)
	return c.Blob(http.StatusOK, contentType, body)
}
