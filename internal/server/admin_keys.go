package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/templates"
)

// adminKeyStatuses are the key status filter's choices.
var adminKeyStatuses = []templates.AdminOption{
	{Value: "", Label: "Any"},
	{Value: keys.StatusActive, Label: "Active"},
	{Value: keys.StatusExpired, Label: "Expired"},
	{Value: keys.StatusRevoked, Label: "Revoked"},
}

// lastFour reads a key search: the last four characters of a display form
// ("kh_live_…o5p6" or "…o5p6") or of a whole key, else the text as typed.
// whole reports that a whole key was typed, which must not stay in a URL.
func lastFour(q string) (term string, whole bool) {
	q = strings.TrimSpace(q)
	if _, err := keys.Parse(q); err == nil {
		return q[len(q)-4:], true
	}
	if i := strings.LastIndex(q, "…"); i >= 0 && len(q)-i-len("…") == 4 {
		return q[i+len("…"):], false
	}
	return q, false
}

// handleAdminKeys is /admin/keys: every account's keys, searched by name
// or last four characters (q), filtered by status and account.
func (s *Server) handleAdminKeys(c echo.Context) error {
	ctx := c.Request().Context()
	l := s.layout(c, "Keys", "admin")
	q, whole := lastFour(c.QueryParam("q"))
	f := templates.AdminKeyFilter{Q: q, Status: c.QueryParam("status"), Account: strings.TrimSpace(c.QueryParam("account"))}
	filters := url.Values{"q": {f.Q}, "status": {f.Status}, "account": {f.Account}}
	if whole {
		// A whole key in a URL reaches browser history and proxies: search
		// by its last four characters under a clean URL instead.
		s.addFlash(c, templates.FlashInfo, "Showing keys ending in "+q+". Search by the last four characters: a whole key does not belong in a URL.")
		return c.Redirect(http.StatusSeeOther, listURL("/admin/keys", filters, 1))
	}
	page := adminPage(c)
	rows, err := s.keys.Search(ctx, keys.KeyFilter{Search: f.Q, Status: f.Status, AccountID: f.Account, Offset: offset(page), Limit: adminPageSize + 1})
	if err != nil {
		return err
	}
	rows, more := pageOf(rows)
	ids := make([]string, len(rows))
	for i, k := range rows {
		ids[i] = k.ID
	}
	since := l.Now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -(chartDays - 1))
	vols, err := s.keys.Volumes(ctx, ids, since)
	if err != nil {
		return err
	}
	p := templates.AdminKeysPage{Layout: l, Filter: f, Statuses: adminKeyStatuses, Pager: adminPager("/admin/keys", filters, page, len(rows), more)}
	if f.Account != "" {
		if a, err := s.auth.Account(ctx, f.Account); err == nil {
			p.AccountEmail = a.Name
		}
	}
	for _, k := range rows {
		row := adminKeyRow(k.Key, k.AccountName, l.Now)
		row.Volume = vols[k.ID].Total()
		p.Keys = append(p.Keys, row)
	}
	return render(c, http.StatusOK, templates.AdminKeys(p))
}

// handleAdminKey is /admin/keys/{id}.
func (s *Server) handleAdminKey(c echo.Context) error {
	return s.renderAdminKey(c, http.StatusOK, nil, nil)
}

// renderAdminKey renders a key's page; form, when not nil, is the
// operator's input to re-show with formErr under its fields.
func (s *Server) renderAdminKey(c echo.Context, status int, form *templates.AdminOverrideForm, formErr error) error {
	d, err := s.overview.AdminKey(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	k, plan := d.Key, d.Plan
	l := s.layout(c, k.Name, "admin")
	row := adminKeyRow(k.Key, d.Account.Name, l.Now)
	row.Used = k.Used
	p := templates.AdminKeyPage{Layout: l, Key: row, Scopes: k.Scopes, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt,
		PlanName: plan.Name, Usage: keyUsageView(d.Usage), AuditURL: "/admin/audit?account=" + url.QueryEscape(k.AccountID),
		Plan:      templates.AdminLimits{RatePerSec: plan.RatePerSecond, Burst: plan.Burst, Quota: plan.MonthlyQuota},
		Effective: templates.AdminLimits{RatePerSec: plan.RatePerSecond, Burst: plan.Burst, Quota: plan.MonthlyQuota},
		Form:      overrideForm(k.Key), Saved: overrideForm(k.Key)}
	p.Error, p.Fields = formErrors(formErr)
	// As the verifier applies them (verify.newEntry).
	if k.RateOverride != nil {
		p.Effective.RatePerSec = *k.RateOverride
		p.Effective.Burst = max(p.Effective.RatePerSec, p.Effective.Burst)
	}
	if k.BurstOverride != nil {
		p.Effective.Burst = *k.BurstOverride
	}
	p.Effective.Quota = k.Quota
	if k.Pooled && d.Pool != nil {
		// No quota of its own: the plan's, shared with the account's
		// other keys.
		p.Effective.Quota, p.Key.Pooled, p.Key.PoolUsed = d.Pool.Limit, true, d.Pool.Used
		p.Pool = poolOf(d.Pool, d.Account)
	}
	p.Key.Quota = p.Effective.Quota
	if form != nil {
		p.Form = *form
	}
	for _, e := range d.Audit {
		p.Audit = append(p.Audit, adminAuditRow(auth.AuditRecord{Entry: e.Entry, ActorEmail: e.ActorEmail}))
	}
	return render(c, status, templates.AdminKey(p))
}

// overrideForm fills the overrides form from a key.
func overrideForm(k *keys.Key) templates.AdminOverrideForm {
	var f templates.AdminOverrideForm
	if k.RateOverride != nil {
		f.Rate = strconv.Itoa(*k.RateOverride)
	}
	if k.BurstOverride != nil {
		f.Burst = strconv.Itoa(*k.BurstOverride)
	}
	if k.QuotaOverride != nil {
		f.Quota = strconv.FormatInt(*k.QuotaOverride, 10)
	}
	return f
}

// handleAdminKeyOverrides sets a key's overrides; the next verification of
// the key uses them.
func (s *Server) handleAdminKeyOverrides(c echo.Context) error {
	form := templates.AdminOverrideForm{Rate: strings.TrimSpace(c.FormValue("rate")), Burst: strings.TrimSpace(c.FormValue("burst")),
		Quota: strings.TrimSpace(c.FormValue("quota"))}
	err := s.keys.SetOverridesFrom(c.Request().Context(), actorOf(c), c.Param("id"), keys.OverrideForm{Rate: form.Rate, Burst: form.Burst, Quota: form.Quota})
	if keyhold.ErrorCode(err) == keyhold.EINVALID {
		return s.renderAdminKey(c, http.StatusUnprocessableEntity, &form, err)
	}
	if err != nil {
		return err
	}
	s.log.Info("key overrides set", "key_id", c.Param("id"), "by", userFrom(c).ID)
	s.addFlash(c, templates.FlashSuccess, "Limits saved. The next verification of this key uses them.")
	return redirect(c, "/admin/keys/"+url.PathEscape(c.Param("id")))
}
