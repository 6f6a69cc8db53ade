package server

// The operator console (/admin…): routes in routes.go behind requireAdmin,
// one file per section. Lists page by offset, 50 rows at a time, and keep
// every filter in the query string so a view can be shared.

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/quota"
	"github.com/keyhold/keyhold/templates"
)

const (
	adminPageSize = 50
	adminMaxPage  = 100_000 // bounds the offset a URL can ask for
	adminTopKeys  = 10
	adminTrail    = 15 // audit entries on an account's or key's page
)

// adminPage is the list page a request asks for, from 1.
func adminPage(c echo.Context) int {
	n, err := strconv.Atoi(c.QueryParam("page"))
	if err != nil || n < 1 {
		return 1
	}
	return min(n, adminMaxPage)
}

// listURL is page of the list at path, with the non-empty filters in its
// query.
func listURL(path string, filters url.Values, page int) string {
	v := url.Values{}
	for k, vs := range filters {
		if len(vs) > 0 && vs[0] != "" {
			v.Set(k, vs[0])
		}
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// adminPager places page (with shown rows, and more after them) in a list
// at path whose filters are filters.
func adminPager(path string, filters url.Values, page, shown int, more bool) templates.AdminPager {
	link := func(n int) string { return listURL(path, filters, n) }
	p := templates.AdminPager{}
	if shown > 0 {
		p.First = (page-1)*adminPageSize + 1
		p.Last = p.First + shown - 1
	}
	if page > 1 {
		p.PrevURL = link(page - 1)
	}
	if more {
		p.NextURL = link(page + 1)
	}
	return p
}

// pageOf trims a query's result (asked for one row more than a page) to a
// page and reports whether there was more.
func pageOf[T any](rows []T) ([]T, bool) {
	if len(rows) > adminPageSize {
		return rows[:adminPageSize], true
	}
	return rows, false
}

// offset is where page starts.
func offset(page int) int { return (page - 1) * adminPageSize }

// adminPlanOptions are the catalog's plans as a select's choices; first,
// when not empty, is a leading "any" choice.
func (s *Server) adminPlanOptions(first string) []templates.AdminOption {
	var opts []templates.AdminOption
	if first != "" {
		opts = append(opts, templates.AdminOption{Value: "", Label: first})
	}
	for _, p := range s.plans.All() {
		opts = append(opts, templates.AdminOption{Value: p.ID, Label: p.Name})
	}
	return opts
}

// accountWindow is the quota window an account's keys count in now, from
// its subscription's status and period.
func accountWindow(now time.Time, status string, start, end *time.Time) quota.Window {
	sub := &billing.Subscription{Status: status, PeriodStart: start, PeriodEnd: end}
	return quota.WindowAt(now, sub.QuotaPeriod())
}

// adminAuditRow turns an audit record into a line of the console.
func adminAuditRow(e auth.AuditRecord) templates.AdminAuditRow {
	r := templates.AdminAuditRow{ID: e.ID, Action: e.Action, Detail: e.Detail, IP: e.IP, At: e.CreatedAt,
		AccountID: e.AccountID, AccountEmail: e.AccountName, ActorID: e.ActorID, ActorEmail: e.ActorEmail,
		TargetType: e.TargetType, TargetID: e.TargetID, RootKeyID: e.RootKeyID}
	// No actor: a root key (the management API), Stripe changed a plan, nobody was signed in (a failed
	// log-in, a reset link asked for by email), or an operator used the
	// command line (everything else).
	if e.ActorID == "" && e.RootKeyID == "" {
		switch e.Action {
		case audit.PlanChanged:
			r.ActorIsSystem = true
		case audit.LoginFailed, audit.PasswordResetRequested:
		default:
			r.ActorIsCLI = true
		}
	}
	switch e.TargetType {
	case audit.TargetKey:
		if e.TargetID != "" {
			r.TargetURL = "/admin/keys/" + url.PathEscape(e.TargetID)
		}
	case audit.TargetAccount:
		if e.TargetID != "" {
			r.TargetURL = "/admin/accounts/" + url.PathEscape(e.TargetID)
		}
	case audit.TargetStripeEvent:
		r.TargetURL = "/admin/events"
	}
	return r
}

// handleAdminOverview is /admin: what needs attention, usage of every key
// over the last 30 days, the busiest keys and the plans.
func (s *Server) handleAdminOverview(c echo.Context) error {
	ctx := c.Request().Context()
	l := s.layout(c, "Operator console", "admin")
	days, err := s.keys.DailyTotals(ctx, chartDays)
	if err != nil {
		return err
	}
	since := l.Now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -(chartDays - 1))
	top, err := s.keys.TopKeys(ctx, since, adminTopKeys)
	if err != nil {
		return err
	}
	byPlan, err := s.auth.AccountsByPlan(ctx)
	if err != nil {
		return err
	}
	failed, err := s.billing.Events(ctx, billing.EventQuery{Outcome: billing.OutcomeFailed, Limit: 100})
	if err != nil {
		return err
	}
	p := templates.AdminOverviewPage{Layout: l, Usage: dailySeries(days), FailedMore: len(failed) == 100, APIVersion: billing.APIVersion,
		BillingEnabled: s.billing.Enabled()}
	// Events refused for their API version get their own warning: the cure
	// is the endpoint's setting in Stripe, not applying them again.
	for _, e := range failed {
		if !e.WrongAPIVersion() {
			p.FailedEvents++
			continue
		}
		p.WrongVersionEvents++
		if !slices.Contains(p.WrongVersions, e.APIVersion) {
			p.WrongVersions = append(p.WrongVersions, e.APIVersion)
		}
	}
	// Endpoints Keyhold turned off itself need the operator; one an
	// operator turned off does not.
	hooks, err := s.webhooks.Endpoints(ctx, events.Page{Limit: adminWebhookLimit})
	if err != nil {
		return err
	}
	for _, e := range hooks {
		if !e.Enabled && (e.DisabledReason == events.DisabledFailing || e.DisabledReason == events.DisabledGone) {
			p.DisabledWebhooks = append(p.DisabledWebhooks, adminWebhookRow(e))
		}
	}
	for _, d := range days {
		p.Totals.Valid += d.Valid
		p.Totals.RateLimited += d.RateLimited
		p.Totals.QuotaExceeded += d.QuotaExceeded
		p.Totals.ScopeDenied += d.ScopeDenied
		p.Totals.Invalid += d.Invalid
		p.Totals.TokenIssued += d.TokenIssued
	}
	for _, n := range byPlan {
		p.Accounts += n
	}
	for _, pl := range s.plans.All() {
		p.Plans = append(p.Plans, templates.AdminPlan{ID: pl.ID, Name: pl.Name, Price: pl.Price, RatePerSec: pl.RatePerSecond,
			Burst: pl.Burst, MonthlyQuota: pl.MonthlyQuota, Pooled: pl.Pooled(), MaxKeys: pl.MaxKeys, Paid: !pl.Free(), Accounts: byPlan[pl.ID]})
	}
	for _, k := range top {
		p.TopKeys = append(p.TopKeys, templates.AdminKeyVolume{KeyID: k.KeyID, Name: k.Name, Display: k.Display,
			OwnerID: k.AccountID, OwnerEmail: k.AccountName, Revoked: k.RevokedAt != nil, UsageTotals: usageTotals(k.UsageCounts)})
	}
	return render(c, http.StatusOK, templates.AdminOverview(p))
}

// adminKeyRow turns a key into a row of the console's lists.
func adminKeyRow(k *keys.Key, ownerEmail string, now time.Time) templates.AdminKeyRow {
	return templates.AdminKeyRow{ID: k.ID, Name: k.Name, Display: k.Display, Status: k.Status(now), OwnerID: k.AccountID,
		OwnerEmail: ownerEmail, CreatedAt: k.CreatedAt, LastUsed: k.LastUsed,
		Overridden: k.RateOverride != nil || k.BurstOverride != nil || k.QuotaOverride != nil}
}
