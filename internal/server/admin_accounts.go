package server

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/team"
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
	return templates.AdminAccountRow{ID: a.ID, Name: a.Name, Email: a.OwnerEmail, Members: a.Members, Suspended: a.Suspended, PlanID: a.PlanID, PlanName: s.plans.Get(a.PlanID).Name,
		Status: a.SubscriptionStatus, LiveKeys: a.LiveKeys, Keys: a.Keys, Used: used, CreatedAt: a.CreatedAt, CustomerID: a.CustomerID}
}

// handleAdminAccount is /admin/accounts/{id}.
func (s *Server) handleAdminAccount(c echo.Context) error {
	o, err := s.overview.AdminAccount(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	a := o.Account
	l := s.layout(c, a.Name, "admin")
	p := templates.AdminAccountPage{Layout: l, Plans: s.adminPlanOptions(""), Usage: accountUsageView(o.Usage),
		AuditURL: "/admin/audit?account=" + url.QueryEscape(a.ID), Self: a.ID == accountID(c),
		Account: templates.AdminAccountRow{ID: a.ID, Name: a.Name, Suspended: a.Suspended, PlanID: o.Plan.ID, PlanName: o.Plan.Name,
			CreatedAt: a.CreatedAt, CustomerID: a.CustomerID, Keys: a.Keys, LiveKeys: a.LiveKeys, Used: o.Used}}
	if sub := a.Subscription; sub != nil {
		p.Account.Status = sub.Status
		p.Subscription = &templates.AdminSubscription{ID: sub.ID, Status: sub.Status, PriceID: sub.PriceID, PeriodStart: sub.PeriodStart,
			PeriodEnd: sub.PeriodEnd, CancelAtPeriodEnd: sub.CancelAtPeriodEnd, CanceledAt: sub.CanceledAt, PaymentState: sub.PaymentState,
			Live: billing.Live(sub), CustomerID: sub.CustomerID, CustomerDashboardURL: s.billing.CustomerURL(sub.CustomerID)}
	}
	for _, k := range o.Keys.Keys {
		row := adminKeyRow(k.Key, a.Name, l.Now)
		row.Used, row.Quota, row.Pooled = k.Used, k.Quota, k.Pooled
		if k.Pooled && o.Pool != nil {
			row.PoolUsed = o.Pool.Used
		}
		p.Keys = append(p.Keys, row)
	}
	p.Pool = poolOf(o.Pool, a)
	for _, e := range o.Trail {
		p.Audit = append(p.Audit, adminAuditRow(e))
	}
	members, err := s.team.AccountMembers(c.Request().Context(), a.ID)
	if err != nil {
		return err
	}
	// The page promises owners first; the store orders by email alone.
	slices.SortStableFunc(members, func(x, y team.Member) int {
		return cmp.Compare(ownerRank(x.Role), ownerRank(y.Role))
	})
	for _, m := range members {
		p.Members = append(p.Members, templates.AdminMemberRow{AccountID: a.ID, AccountName: a.Name, UserID: m.UserID, Email: m.Email,
			Role: string(m.Role), Joined: m.CreatedAt})
	}
	return render(c, http.StatusOK, templates.AdminAccount(p))
}

// handleAdminAccountPlan puts an account on a plan without Stripe.
func (s *Server) handleAdminAccountPlan(c echo.Context) error {
	id := c.Param("id")
	err := s.billing.SetPlanManually(c.Request().Context(), actorOf(c), id, c.FormValue("plan"))
	switch keyhold.ErrorCode(err) {
	case "":
		s.log.Info("plan assigned", "account_id", id, "plan", c.FormValue("plan"), "by", userFrom(c).ID)
		s.addFlash(c, templates.FlashSuccess, "Plan set to "+s.plans.Get(c.FormValue("plan")).Name+". Its keys get the new limits on their next verification.")
	case keyhold.EINVALID, keyhold.ECONFLICT:
		s.addFlash(c, templates.FlashError, keyhold.ErrorMessage(err))
	default:
		return err
	}
	return redirect(c, "/admin/accounts/"+url.PathEscape(id))
}

// ownerRank sorts owners before every other role.
func ownerRank(r team.Role) int {
	if r == team.Owner {
		return 0
	}
	return 1
}
