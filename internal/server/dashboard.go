package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/templates"
)

func (s *Server) handleDashboard(c echo.Context) error {
	l := s.layout(c, "Dashboard", "dashboard")
	acct := accountFrom(c)
	rows, plan, err := s.keysAndPlan(c, acct.ID, l.Now)
	if err != nil {
		return err
	}
	p := templates.DashboardPage{Layout: l, BaseURL: s.baseURL.String(), Keys: rows, Plan: plan}
	if len(rows) > 0 {
		if p.Usage, err = s.accountUsage(c, acct.ID, l.Now); err != nil {
			return err
		}
	}
	return render(c, http.StatusOK, templates.Dashboard(p))
}
