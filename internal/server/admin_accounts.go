package server

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/templates"
)

// adminStatuses are the subscription filter's choices.
var adminStatuses = []templates.AdminOption{
	{Value: "", Label: "Any"},
	{Value: auth.StatusNone, Label: "None"},
	{Value: "active", Label: "Active"},
	{Value: "trialing", Label: "Trial"},
	{Value: "past_due", Label: "Payment issue"},
	{Value: "unpaid", Label: "Unpaid"},
	{Value: "incomplete", Label: "Awaiting payment"},
	{Value: "canceled", Label: "Canceled"},
	{Value: "incomplete_expired", Label: "Expired"},
}

// handleAdminAccounts is /admin/accounts: every account, filtered by
// email (q), plan and subscription status, 50 to a page.
func (s *Server) handleAdminAccounts(c echo.Context) error {
	ctx := c.Request().Context()
	l := s.layout(c, "Accounts", "admin")
	f := templates.AdminAccountFilter{Q: strings.TrimSpace(c.QueryParam("q")), Plan: c.QueryParam("plan"), Status: c.QueryParam("status")}
	page := adminPage(c)
	rows, err := s.auth.Accounts(ctx, auth.AccountQuery{Email: f.Q, PlanID: f.Plan, Status: f.Status, Offset: offset(page), Limit: adminPageSize + 1})
	if err != nil {
		return err
	}
	rows, more := pageOf(rows)
	windows := make(map[string]time.Time, len(rows))
	for _, a := range rows {
		windows[a.ID] = accountWindow(l.Now, a.SubscriptionStatus, a.PeriodStart, a.PeriodEnd).Start
	}
	used, err := s.keys.QuotaUsedByAccount(ctx, windows)
	if err != nil {
		return err
	}
	p := templates.AdminAccountsPage{Layout: l, Filter: f, Plans: s.adminPlanOptions("Any"), Statuses: adminStatuses,
		Pager: adminPager("/admin/accounts", url.Values{"q": {f.Q}, "plan": {f.Plan}, "status": {f.Status}}, page, len(rows), more)}
	for _, a := range rows {
		p.Accounts = append(p.Accounts, s.adminAccountRow(a, used[a.ID]))
	}
	return render(c, http.StatusOK, templates.AdminAccounts(p))
}

func (s *Server) adminAccountRow(a auth.AccountSummary, used int64) templates.AdminAccountRow {
	return templates.AdminAccountRow{ID: a.ID, Email: a.Email, IsAdmin: a.IsAdmin, Suspended: a.Suspended, PlanID: a.PlanID, PlanName: s.plans.Get(a.PlanID).Name,
		Status: a.SubscriptionStatus, LiveKeys: a.LiveKeys, Keys: a.Keys, Used: used, CreatedAt: a.CreatedAt, CustomerID: a.CustomerID}
}

// handleAdminAccount is /admin/accounts/{id}.
func (s *Server) handleAdminAccount(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	a, err := s.auth.Account(ctx, id)
	if err != nil {
		return err
	}
	l := s.layout(c, a.Email, "admin")
	o, err := s.billing.Overview(ctx, id)
	if err != nil {
		return err
	}
	ks, err := s.keys.List(ctx, id)
	if err != nil {
		return err
	}
	usage, err := s.accountUsage(c, id, l.Now)
	if err != nil {
		return err
	}
	window := s.quotaWindow(c, id, l.Now)
	used, err := s.keys.QuotaUsed(ctx, id, window.Start)
	if err != nil {
		return err
	}
	trail, err := s.auth.AuditLog(ctx, auth.AuditQuery{AccountID: id, Limit: adminTrail})
	if err != nil {
		return err
	}
	plan := s.plans.Get(a.PlanID)
	p := templates.AdminAccountPage{Layout: l, Plans: s.adminPlanOptions(""), Usage: usage,
		AuditURL: "/admin/audit?account=" + url.QueryEscape(id), Self: id == accountFrom(c).ID,
		Account: templates.AdminAccountRow{ID: a.ID, Email: a.Email, IsAdmin: a.IsAdmin, Suspended: a.Suspended, PlanID: plan.ID, PlanName: plan.Name,
			CreatedAt: a.CreatedAt, CustomerID: o.CustomerID}}
	if sub := o.Subscription; sub != nil {
		p.Account.Status = sub.Status
		p.Subscription = &templates.AdminSubscription{ID: sub.ID, Status: sub.Status, PriceID: sub.PriceID, PeriodStart: sub.PeriodStart,
			PeriodEnd: sub.PeriodEnd, CancelAtPeriodEnd: sub.CancelAtPeriodEnd, CanceledAt: sub.CanceledAt, PaymentState: sub.PaymentState,
			Live: billing.Live(sub), CustomerID: sub.CustomerID, CustomerDashboardURL: s.billing.CustomerURL(sub.CustomerID)}
	}
	var total int64
	for _, k := range ks {
		row := adminKeyRow(k, a.Email, l.Now)
		row.Used, row.Quota = used[k.ID], plan.MonthlyQuota
		if k.QuotaOverride != nil {
			row.Quota = *k.QuotaOverride
		}
		// This process's count is fresher than the last flush.
		if u, w, ok := s.verifier.QuotaUsed(k.ID, l.Now); ok && w.Start.Equal(window.Start) {
			row.Used = u
		}
		total += row.Used
		p.Keys = append(p.Keys, row)
		p.Account.Keys++
		if row.Status == templates.KeyActive {
			p.Account.LiveKeys++
		}
	}
	p.Account.Used = total
	for _, e := range trail {
		p.Audit = append(p.Audit, adminAuditRow(e))
	}
	return render(c, http.StatusOK, templates.AdminAccount(p))
}

// handleAdminAccountPlan puts an account on a plan without Stripe.
func (s *Server) handleAdminAccountPlan(c echo.Context) error {
	id := c.Param("id")
	err := s.billing.SetPlanManually(c.Request().Context(), actorOf(c), id, c.FormValue("plan"))
	switch keyhold.ErrorCode(err) {
	case "":
		s.log.Info("plan assigned", "account_id", id, "plan", c.FormValue("plan"), "by", accountFrom(c).ID)
		s.addFlash(c, templates.FlashSuccess, "Plan set to "+s.plans.Get(c.FormValue("plan")).Name+". Its keys get the new limits on their next verification.")
	case keyhold.EINVALID:
		s.addFlash(c, templates.FlashError, keyhold.ErrorMessage(err))
	default:
		return err
	}
	return redirect(c, "/admin/accounts/"+url.PathEscape(id))
}
