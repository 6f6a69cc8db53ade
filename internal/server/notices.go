package server

import (
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/notices"
	"github.com/keyhold/keyhold/internal/overview"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/quota"
	"github.com/keyhold/keyhold/internal/team"
	"github.com/keyhold/keyhold/templates"
)

// extendDays is how far the Rotate fix of an expiry notice moves the
// key's expiry in the settings form it pre-fills.
const extendDays = 90

// noticeKeys turns the read side's keys into what notices need, with the
// account's shared quota (pool, nil for none) as one more: its notices
// show beside those of the keys.
func noticeKeys(ks []overview.Key, pool *overview.Pool, accountID string, now time.Time) []notices.Key {
	out := make([]notices.Key, len(ks), len(ks)+1)
	for i, k := range ks {
		out[i] = notices.Key{ID: k.ID, Name: k.Name, Used: k.Used, Quota: k.Quota, ExpiresAt: k.ExpiresAt, Live: k.Status(now) == keys.StatusActive}
	}
	if pool != nil {
		out = append(out, notices.PoolKey(accountID, pool.Used, pool.Limit))
	}
	return out
}

// nextPlan is the plan an Upgrade leads to: the first paid plan after the
// current one in the catalog with a larger quota; nil when there is none.
func nextPlan(c *plans.Catalog, current *plans.Plan) *plans.Plan {
	after := false
	for _, p := range c.All() {
		if p.ID == current.ID {
			after = true
			continue
		}
		if after && !p.Free() && p.MonthlyQuota > current.MonthlyQuota {
			return p
		}
	}
	return nil
}

// banners are the notice banners of an account's keys ks and its shared
// quota pool (nil: none) for the user, each with its fix; back is the
// page a dismissal returns to.
func (s *Server) banners(c echo.Context, ks []overview.Key, pool *overview.Pool, w quota.Window, plan *plans.Plan, a *overview.Account, back string) ([]templates.NoticeBanner, error) {
	now := time.Now().UTC()
	ns, err := s.notices.Banners(c.Request().Context(), userFrom(c).ID, noticeKeys(ks, pool, a.ID, now), w)
	if err != nil || len(ns) == 0 {
		return nil, err
	}
	role := team.Role("")
	if v := visitFrom(c); v != nil && v.Current != nil {
		role = v.Current.Role
	}
	var upgrade *templates.NoticeUpgrade
	mayBill := team.Can(role, team.ManageBilling)
	if next := nextPlan(s.plans, plan); next != nil && mayBill && s.billing.Enabled() && !subscribed(a) {
		upgrade = &templates.NoticeUpgrade{PlanID: next.ID, PlanName: next.Name}
	}
	mayRotate := team.Can(role, team.ManageKeys)
	out := make([]templates.NoticeBanner, 0, len(ns))
	for _, n := range ns {
		b := templates.NoticeBanner{ID: n.ID, Kind: n.Kind, Level: n.Level, KeyID: n.KeyID, KeyName: n.KeyName, Pool: n.Pool, Back: back}
		if n.Kind == notices.KindQuota {
			b.Used, b.Limit, b.RunsOut, b.TooEarly, b.WindowEnd = n.Used, n.Limit, n.RunsOut, n.TooEarly, n.Window.End
			b.Upgrade = upgrade
			b.Billing = upgrade == nil && mayBill
		} else {
			b.ExpiresAt = n.ExpiresAt
			if mayRotate {
				b.RotateURL = "/keys/" + n.KeyID + "?extend=1#rotate"
			}
		}
		out = append(out, b)
	}
	return out, nil
}

// subscribed reports whether the account has a live subscription: its
// plan changes in the billing portal, not through Checkout.
func subscribed(a *overview.Account) bool {
	return a != nil && billing.Live(a.Subscription)
}

// handleNoticeDismiss hides one notice for the user. Only a notice the
// account's keys call for now can be dismissed: any other id (another
// account's key, a window past, a made-up one) is 404 and changes
// nothing.
func (s *Server) handleNoticeDismiss(c echo.Context) error {
	ctx := c.Request().Context()
	ks, err := s.overview.KeyList(ctx, accountID(c), overview.KeyListQuery{Status: overview.StatusAll})
	if err != nil {
		return err
	}
	if err := s.notices.Dismiss(ctx, userFrom(c).ID, c.Param("id"), noticeKeys(ks.Keys, ks.Pool, ks.Account.ID, time.Now().UTC()), ks.Window); err != nil {
		return err
	}
	return redirect(c, localPath(c.FormValue("back"), "/dashboard"))
}

// localPath is p when it is a path on this site, else def: a form's
// "back" must not send the browser elsewhere.
func localPath(p, def string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return def
	}
	return p
}

// handleNoticePrefs saves which notice emails the user gets: a box per
// kind, checked to get them.
func (s *Server) handleNoticePrefs(c echo.Context) error {
	p := notices.Prefs{QuotaMail: c.FormValue("quota_mail") == "on", ExpiryMail: c.FormValue("expiry_mail") == "on"}
	if err := s.notices.SetPrefs(c.Request().Context(), userFrom(c).ID, p); err != nil {
		return err
	}
	s.addFlash(c, templates.FlashSuccess, "Notice emails saved.")
	return redirect(c, "/account#notices")
}

// extendedExpiry is the expiry the Rotate fix pre-fills: extendDays after
// the later of the key's expiry and now, as the settings form's date.
func extendedExpiry(exp *time.Time, now time.Time) string {
	from := now
	if exp != nil && exp.After(now) {
		from = *exp
	}
	return from.AddDate(0, 0, extendDays).UTC().Format("2006-01-02")
}
