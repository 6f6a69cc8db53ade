package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/templates"
)

// refuseSuspended answers every request of a suspended account with the
// suspended page (403), so its user can neither see the portal nor act on
// keys, billing or settings; only /logout is routed without it. It runs
// after requireSession, which loaded the account afresh: a suspension
// takes effect on the user's next request.
func (s *Server) refuseSuspended(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if v := visitFrom(c); v != nil && v.Current != nil && v.Current.Suspended {
			return render(c, http.StatusForbidden, templates.Suspended(s.layout(c, "Account suspended", "")))
		}
		return next(c)
	}
}
