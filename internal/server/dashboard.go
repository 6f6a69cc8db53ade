package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/templates"
)

func (s *Server) handleDashboard(c echo.Context) error {
	p := templates.DashboardPage{Layout: s.layout(c, "Dashboard", "dashboard"), BaseURL: s.baseURL.String()}
	return render(c, http.StatusOK, templates.Dashboard(p))
}
