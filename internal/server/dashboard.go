package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/templates"
)

func (s *Server) handleDashboard(c echo.Context) error {
	l := s.layout(c, "Dashboard", "dashboard")
	o, err := s.overview.AccountOverview(c.Request().Context(), accountID(c))
	if err != nil {
		return err
	}
	ns, err := s.banners(c, o.Keys.Keys, o.Pool, o.Window, o.Plan, o.Account, "/dashboard")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, templates.Dashboard(templates.DashboardPage{Layout: l, BaseURL: s.baseURL.String(),
		Keys: keyRowsOf(o.Keys.Keys, o.Pool, l.Now), Plan: s.planOf(o.Plan, o.Account), Usage: accountUsageView(o.Usage), Notices: ns,
		Pool: poolOf(o.Pool, o.Account)}))
}
