package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/overview"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/templates"
)

// keyFormOf reads the key form, trimmed.
func keyFormOf(c echo.Context) templates.KeyForm {
	return templates.KeyForm{
		Name:   strings.TrimSpace(c.FormValue("name")),
		Scopes: strings.TrimSpace(c.FormValue("scopes")),
		Meta:   strings.TrimSpace(c.FormValue("meta")),
		// Trimmed, and each entry again by the key service.
		IPAllowlist: strings.TrimSpace(c.FormValue("ip_allowlist")),
		Expiry:      strings.TrimSpace(c.FormValue("expiry")),
		Expires:     strings.TrimSpace(c.FormValue("expires")),
	}
}

// parseKeyForm checks the form f read from c in the key service: every
// field's problem at once (keyhold.Fields). A post without the field
// ip_allowlist (a page from before it existed, a script) leaves the list
// as it is, rather than opening the key to every address.
func (s *Server) parseKeyForm(c echo.Context, f templates.KeyForm) (keys.Settings, error) {
	kf := keys.Form{Name: f.Name, Scopes: f.Scopes, Meta: f.Meta, Expiry: f.Expiry, Expires: f.Expires}
	if _, sent := c.Request().PostForm["ip_allowlist"]; sent {
		kf.IPAllowlist = &f.IPAllowlist
	}
	return s.keys.ParseForm(kf)
}

// formOfKey fills the settings form from a stored key.
func formOfKey(k *keys.Key) templates.KeyForm {
	f := templates.KeyForm{Name: k.Name, Scopes: strings.Join(k.Scopes, ", "), Meta: metaText(k.Meta), IPAllowlist: keys.FormatAllowlist(k.IPAllowlist)}
	if k.ExpiresAt != nil {
		f.Expires = k.ExpiresAt.Add(-time.Nanosecond).UTC().Format("2006-01-02")
	}
	return f
}

// metaText is a key's stored metadata as the settings form shows it: the
// stored text itself (never re-encoded, so a value that no longer passes
// keys.CheckMeta is shown as it is, for its owner to fix), "" for none.
func metaText(meta json.RawMessage) string {
	if m := strings.TrimSpace(string(meta)); m != "{}" {
		return m
	}
	return ""
}

func keyRow(k *keys.Key, now time.Time) templates.KeyRow {
	return templates.KeyRow{ID: k.ID, Name: k.Name, Display: k.Display, Scopes: k.Scopes, Status: k.Status(now),
		CreatedAt: k.CreatedAt, LastUsed: k.LastUsed, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt, CreatedBy: k.CreatedByEmail}
}

// keyRowOf is a key with its quota this window as a row; pool is its
// account's shared quota (nil: none), of which a pooled key shows its
// share.
func keyRowOf(k overview.Key, pool *overview.Pool, now time.Time) templates.KeyRow {
	r := keyRow(k.Key, now)
	r.Used, r.Quota, r.Pooled = k.Used, k.Quota, k.Pooled
	if k.Pooled && pool != nil {
		r.PoolUsed = pool.Used
	}
	return r
}

// planOf is the account's plan as the key pages show it.
func (s *Server) planOf(p *plans.Plan, a *overview.Account) templates.Plan {
	return templates.Plan{ID: p.ID, Name: p.Name, MaxKeys: p.MaxKeys, LiveKeys: a.LiveKeys, MonthlyQuota: p.MonthlyQuota,
		RatePerSec: p.RatePerSecond, Burst: p.Burst, Pooled: p.Pooled(), Upgrades: s.billing.Enabled()}
}

// poolOf is an account's shared quota as the pages show it; nil for none.
func poolOf(p *overview.Pool, a *overview.Account) *templates.PoolQuota {
	if p == nil {
		return nil
	}
	return &templates.PoolQuota{Used: p.Used, Limit: p.Limit, Resets: p.Window.End, Keyless: a != nil && a.Keys == 0}
}

// keyRowsOf turns a key list into rows.
func keyRowsOf(ks []overview.Key, pool *overview.Pool, now time.Time) []templates.KeyRow {
	rows := make([]templates.KeyRow, len(ks))
	for i, k := range ks {
		rows[i] = keyRowOf(k, pool, now)
	}
	return rows
}

// handleKeyList is /keys: the account's keys, filtered by ?status=
// (active, revoked, all) and ordered by ?sort= (created, name, used);
// anything else means the default.
func (s *Server) handleKeyList(c echo.Context) error {
	l := s.layout(c, "API keys", "keys")
	ks, err := s.overview.KeyList(c.Request().Context(), accountID(c),
		overview.KeyListQuery{Status: c.QueryParam("status"), Sort: c.QueryParam("sort")})
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, templates.KeysList(templates.KeysPage{Layout: l, Keys: keyRowsOf(ks.Keys, ks.Pool, l.Now),
		Plan: s.planOf(ks.Plan, ks.Account), Filter: keyListFilter(ks.Query, ks.Account), Pool: poolOf(ks.Pool, ks.Account)}))
}

// keyListFilter is the key list's filter and sort links.
func keyListFilter(q overview.KeyListQuery, a *overview.Account) templates.KeyListFilter {
	link := func(status, sort string) string {
		v := url.Values{}
		if status != keys.StatusActive {
			v.Set("status", status)
		}
		if sort != overview.SortCreated {
			v.Set("sort", sort)
		}
		if len(v) == 0 {
			return "/keys"
		}
		return "/keys?" + v.Encode()
	}
	f := templates.KeyListFilter{Total: a.Keys}
	for _, o := range []struct{ value, label string }{
		{keys.StatusActive, "Active"}, {keys.StatusRevoked, "Revoked"}, {overview.StatusAll, "All"}} {
		f.Statuses = append(f.Statuses, templates.KeyListOption{Value: o.value, Label: o.label, URL: link(o.value, q.Sort), Current: o.value == q.Status})
	}
	for _, o := range []struct{ value, label string }{
		{overview.SortCreated, "Created"}, {overview.SortName, "Name"}, {overview.SortLastUsed, "Last used"}} {
		f.Sorts = append(f.Sorts, templates.KeyListOption{Value: o.value, Label: o.label, URL: link(q.Status, o.value), Current: o.value == q.Sort})
	}
	return f
}

func (s *Server) handleKeyNew(c echo.Context) error {
	return s.renderKeyNew(c, http.StatusOK, templates.KeyForm{Expiry: strconv.Itoa(keys.DefaultExpiryDays)}, nil)
}

// renderKeyNew renders the new-key form with f; err, when not nil, is
// shown under its fields (keyhold.Fields) or above the form.
func (s *Server) renderKeyNew(c echo.Context, status int, f templates.KeyForm, formErr error) error {
	l := s.layout(c, "New API key", "keys")
	a, err := s.overview.Account(c.Request().Context(), accountID(c))
	if err != nil {
		return err
	}
	suggest, err := s.keys.ScopesInUse(c.Request().Context(), a.ID)
	if err != nil {
		return err
	}
	p := templates.KeyNewPage{Layout: l, Form: f, Plan: s.planOf(s.plans.Get(a.PlanID), a), ScopeSuggestions: suggest, ExpiryPresets: keys.ExpiryPresets}
	p.Error, p.Fields = formErrors(formErr)
	return render(c, status, templates.KeyNew(p))
}

// formErrors splits a form's error into the message above the form and
// the messages under its fields: a field error is shown only under its
// field.
func formErrors(err error) (string, map[string]string) {
	if fields := keyhold.Fields(err); fields != nil {
		return "", fields
	}
	return keyhold.ErrorMessage(err), nil
}

// handleKeyCreate creates a key and answers with the page that shows its
// secret, once. The page is not cached (no-store) and replaces its own URL
// with the key's, so a reload does not post the form again.
func (s *Server) handleKeyCreate(c echo.Context) error {
	f := keyFormOf(c)
	st, err := s.parseKeyForm(c, f)
	if err != nil {
		return s.renderKeyNew(c, http.StatusUnprocessableEntity, f, err)
	}
	acctID := accountID(c)
	k, secret, err := s.keys.Create(c.Request().Context(), actorOf(c), acctID, st)
	switch keyhold.ErrorCode(err) {
	case "":
	case keyhold.EINVALID:
		return s.renderKeyNew(c, http.StatusUnprocessableEntity, f, err)
	case keyhold.ELIMIT, keyhold.EFORBIDDEN: // a plan limit; an unverified address (KEYHOLD_REQUIRE_VERIFIED_EMAIL)
		return s.renderKeyNew(c, http.StatusForbidden, f, err)
	default:
		return err
	}
	s.log.Info("key created", "account_id", acctID, "key_id", k.ID)
	l := s.layout(c, "Your new API key", "keys")
	return render(c, http.StatusOK, templates.KeyCreated(templates.KeyCreatedPage{
		Layout: l, Key: keyRow(k, l.Now), Secret: secret.Reveal(), BaseURL: s.baseURL.String()}))
}

func (s *Server) handleKeyShow(c echo.Context) error {
	return s.renderKeyDetail(c, http.StatusOK, nil, nil)
}

// renderKeyDetail renders the key page; form, when not nil, is the user's
// input to re-show with formErr under its fields.
func (s *Server) renderKeyDetail(c echo.Context, status int, form *templates.KeyForm, formErr error) error {
	ctx := c.Request().Context()
	acctID := accountID(c)
	d, err := s.overview.KeyDetail(ctx, acctID, c.Param("id"))
	if err != nil {
		return err
	}
	k := d.Key.Key
	l := s.layout(c, k.Name, "keys")
	p := templates.KeyDetailPage{Layout: l, Key: keyRowOf(d.Key, d.Pool, l.Now), Form: formOfKey(k), Plan: s.planOf(d.Plan, d.Account), Pool: poolOf(d.Pool, d.Account),
		GraceOptions: graceOptions(), OldSecretUntil: k.OldSecretUntil, BaseURL: s.baseURL.String(), Usage: keyUsageView(d.Usage),
		IPAllowlist: keys.AllowlistStrings(k.IPAllowlist)}
	p.Error, p.Fields = formErrors(formErr)
	// The shared quota's notices show on every key page of the account.
	if p.Notices, err = s.banners(c, []overview.Key{d.Key}, d.Pool, d.Usage.Window, d.Plan, d.Account, "/keys/"+k.ID); err != nil {
		return err
	}
	if c.QueryParam("extend") != "" && k.ExpiresAt != nil && form == nil {
		p.Form.Expires, p.Extended = extendedExpiry(k.ExpiresAt, l.Now), true
	}
	if form != nil {
		p.Form = *form
	}
	if m := metaText(d.Key.Meta); m != "" {
		// Indented for reading; text that is no JSON at all is shown as is.
		var b bytes.Buffer
		if json.Indent(&b, []byte(m), "", "  ") == nil {
			m = b.String()
		}
		p.Meta = m
	}
	for _, e := range d.Audit {
		p.Audit = append(p.Audit, templates.AuditRow{Action: e.Action, Detail: e.Detail, IP: e.IP, At: e.CreatedAt})
		if e.Action == audit.KeyRevoked && p.RevokedBy == "" {
			p.RevokedBy = revokedBy(e, userFrom(c).ID)
		}
	}
	if k.RevokedAt != nil {
		// Usage is kept by the hour; the key's first hour holds its start.
		life, err := s.keys.KeyTotals(ctx, acctID, k.ID, k.CreatedAt)
		if err != nil {
			return err
		}
		p.UsageToDate = usageTotals(life)
	}
	return render(c, status, templates.KeyDetail(p))
}

func (s *Server) handleKeyUpdate(c echo.Context) error {
	f := keyFormOf(c)
	st, err := s.parseKeyForm(c, f)
	if err == nil {
		_, err = s.keys.Update(c.Request().Context(), actorOf(c), accountID(c), c.Param("id"), st)
	}
	if keyhold.ErrorCode(err) == keyhold.EINVALID {
		return s.renderKeyDetail(c, http.StatusUnprocessableEntity, &f, err)
	}
	if err != nil {
		return err
	}
	s.addFlash(c, templates.FlashSuccess, "Key settings saved.")
	return redirect(c, "/keys/"+c.Param("id"))
}

func (s *Server) handleKeyRevoke(c echo.Context) error {
	err := s.keys.Revoke(c.Request().Context(), actorOf(c), accountID(c), c.Param("id"))
	if keyhold.ErrorCode(err) == keyhold.EINVALID {
		s.addFlash(c, templates.FlashInfo, keyhold.ErrorMessage(err))
		return redirect(c, "/keys/"+c.Param("id"))
	}
	if err != nil {
		return err
	}
	s.log.Info("key revoked", "account_id", accountID(c), "key_id", c.Param("id"))
	s.addFlash(c, templates.FlashSuccess, "Key revoked. It no longer verifies, anywhere.")
	return redirect(c, "/keys/"+c.Param("id"))
}

// handleKeyUsageCSV answers a key's daily usage over the last 90 days,
// oldest first, as a CSV download.
func (s *Server) handleKeyUsageCSV(c echo.Context) error {
	ctx := c.Request().Context()
	acctID := accountID(c)
	k, err := s.keys.Get(ctx, acctID, c.Param("id"))
	if err != nil {
		return err
	}
	days, err := s.keys.DailyUsage(ctx, acctID, k.ID, csvDays)
	if err != nil {
		return err
	}
	name := "keyhold-usage-" + fileSlug(k.Name) + "-" + days[len(days)-1].Day.Format(time.DateOnly) + ".csv"
	return attachment(c, "text/csv; charset=utf-8", name, usageCSV(days))
}

// graceOptions are the rotate form's choices, one per keys.GracePeriods,
// in its order.
func graceOptions() []templates.GraceOption {
	opts := make([]templates.GraceOption, len(keys.GracePeriods))
	for i, g := range keys.GracePeriods {
		o := templates.GraceOption{Value: graceValue(g), Label: keys.GraceLabel(g), Default: g == defaultGrace}
		if g == 0 {
			o.Label = "None: the old secret stops now"
		}
		opts[i] = o
	}
	return opts
}

// defaultGrace is the grace the rotate form pre-selects, so that apps
// still using the old secret have a day to switch. A request that names
// none gets none (DESIGN.md: "default none").
const defaultGrace = 24 * time.Hour

// graceValue is g as the rotate form sends it: "0", "1h", "24h", "168h"
// (parseGrace reads it back).
func graceValue(g time.Duration) string {
	switch {
	case g == 0:
		return "0"
	case g%time.Hour == 0:
		return strconv.FormatInt(int64(g/time.Hour), 10) + "h"
	}
	return g.String()
}

// revokedBy says who revoked a key, from its audit entry, for the
// account's own page: "you", the member who did, or "an operator" (whose
// address the account's members are not shown).
func revokedBy(e overview.KeyEvent, userID string) string {
	switch {
	case e.ActorID == "":
		return ""
	case e.ActorID == userID:
		return "you"
	case e.ByMember && e.ActorEmail != "":
		return e.ActorEmail
	}
	return "an operator"
}

// handleKeyExpireOld ends a rotation's grace period now: the previous
// secret answers EXPIRED on its next verification, on every instance.
func (s *Server) handleKeyExpireOld(c echo.Context) error {
	acctID := accountID(c)
	err := s.keys.ExpireOldSecret(c.Request().Context(), actorOf(c), acctID, c.Param("id"))
	if keyhold.ErrorCode(err) == keyhold.EINVALID {
		s.addFlash(c, templates.FlashInfo, keyhold.ErrorMessage(err))
		return redirect(c, "/keys/"+c.Param("id"))
	}
	if err != nil {
		return err
	}
	s.log.Info("key old secret expired", "account_id", acctID, "key_id", c.Param("id"))
	s.addFlash(c, templates.FlashSuccess, "The previous secret no longer works. Only the current one verifies now.")
	return redirect(c, "/keys/"+c.Param("id"))
}

// handleKeyRotate rotates a key and shows its new secret once. A form that
// names no grace period gets none (DESIGN.md: "default none"); a grace the
// form does not offer is refused by the service with a clear message.
func (s *Server) handleKeyRotate(c echo.Context) error {
	grace, err := parseGrace(c.FormValue("grace"))
	if err != nil {
		grace = -1 // refused by the service with a clear message
	}
	acctID := accountID(c)
	k, secret, err := s.keys.Rotate(c.Request().Context(), actorOf(c), acctID, c.Param("id"), grace)
	if keyhold.ErrorCode(err) == keyhold.EINVALID {
		s.addFlash(c, templates.FlashError, keyhold.ErrorMessage(err))
		return redirect(c, "/keys/"+c.Param("id"))
	}
	if err != nil {
		return err
	}
	s.log.Info("key rotated", "account_id", acctID, "key_id", k.ID)
	l := s.layout(c, "Your new secret", "keys")
	p := templates.KeyCreatedPage{Layout: l, Key: keyRow(k, l.Now), Secret: secret.Reveal(), BaseURL: s.baseURL.String(), Rotated: true}
	if grace > 0 {
		until := l.Now.Add(grace)
		p.GraceUntil = &until
	}
	return render(c, http.StatusOK, templates.KeyCreated(p))
}

// parseGrace reads the rotate form's grace period: empty or "0" is none,
// anything else a Go duration such as "24h".
func parseGrace(v string) (time.Duration, error) {
	switch v = strings.TrimSpace(v); v {
	case "", "0":
		return 0, nil
	}
	return time.ParseDuration(v)
}
