package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/templates"
)

// adminUserTrail is how many audit entries the user page shows.
const adminUserTrail = 20

// handleAdminUser is /admin/users/{id}: a user, the accounts they belong
// to and what they did, with the operator's actions on users.
func (s *Server) handleAdminUser(c echo.Context) error {
	ctx := c.Request().Context()
	u, err := s.auth.User(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	ms, err := s.team.Memberships(ctx, u.ID)
	if err != nil {
		return err
	}
	trail, err := s.auth.AuditLog(ctx, auth.AuditQuery{UserID: u.ID, Limit: adminUserTrail})
	if err != nil {
		return err
	}
	me := userFrom(c).ID
	p := templates.AdminUserPage{Layout: s.layout(c, u.Email, "admin"), UserID: u.ID, Email: u.Email, IsAdmin: u.IsAdmin,
		Verified: u.EmailVerifiedAt != nil, CreatedAt: u.CreatedAt, Self: u.ID == me, CanDemote: u.IsAdmin}
	for _, m := range ms {
		p.Accounts = append(p.Accounts, templates.AdminMemberRow{AccountID: m.AccountID, AccountName: m.AccountName, UserID: u.ID,
			Email: u.Email, Role: string(m.Role), Joined: m.CreatedAt, PlanName: s.plans.Get(m.PlanID).Name, Suspended: m.Suspended})
	}
	for _, e := range trail {
		p.Audit = append(p.Audit, adminAuditRow(e))
	}
	return render(c, http.StatusOK, templates.AdminUser(p))
}
