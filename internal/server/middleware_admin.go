package server

import "github.com/labstack/echo/v4"

// requireAdmin lets operators through and answers 404 to everyone else,
// so the console does not even admit that it exists. It runs after
// requireSession, which has loaded the account afresh: an account that
// loses its flag loses the console on its next request.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if u := userFrom(c); u == nil || !u.IsAdmin {
			return echo.ErrNotFound
		}
		return next(c)
	}
}
