package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/templates"
)

func (s *Server) handleDashboard(c echo.Context) error {
	l := s.layout(c, "Dashboard", "dashboard")
	rows, plan, err := s.keysAndPlan(c.Request().Context(), accountFrom(c).ID, l.Now)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, templates.Dashboard(templates.DashboardPage{Layout: l, BaseURL: s.baseURL.String(), Keys: rows, Plan: plan}))
}
