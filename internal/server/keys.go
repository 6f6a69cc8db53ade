package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/verify"
	"github.com/keyhold/keyhold/templates"
)

// keyFormOf reads the key form, trimmed.
func keyFormOf(c echo.Context) templates.KeyForm {
	return templates.KeyForm{
		Name:    strings.TrimSpace(c.FormValue("name")),
		Scopes:  strings.TrimSpace(c.FormValue("scopes")),
		Meta:    strings.TrimSpace(c.FormValue("meta")),
		Expires: strings.TrimSpace(c.FormValue("expires")),
	}
}

// settings turns the form into key settings. An expiry date means the key
// works through that whole day, UTC.
func settings(f templates.KeyForm) (keys.Settings, error) {
	meta, err := keys.ParseMeta(f.Meta)
	if err != nil {
		return keys.Settings{}, err
	}
	st := keys.Settings{Name: f.Name, Scopes: keys.ParseScopes(f.Scopes), Meta: meta}
	if f.Expires != "" {
		d, err := time.Parse("2006-01-02", f.Expires)
		if err != nil {
			return keys.Settings{}, keyhold.Errorf(keyhold.EINVALID, "Enter the expiry as a date, like 2027-01-31.")
		}
		end := d.AddDate(0, 0, 1)
		st.ExpiresAt = &end
	}
	return st, nil
}

// formOfKey fills the settings form from a stored key.
func formOfKey(k *keys.Key) templates.KeyForm {
	f := templates.KeyForm{Name: k.Name, Scopes: strings.Join(k.Scopes, ", "), Meta: metaText(k.Meta)}
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
		CreatedAt: k.CreatedAt, LastUsed: k.LastUsed, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt}
}

func actorOf(c echo.Context) audit.Actor {
	return audit.Actor{AccountID: accountFrom(c).ID, IP: c.RealIP()}
}

// keysAndPlan loads the account's keys as rows and its plan with the count
// of live keys.
func (s *Server) keysAndPlan(c echo.Context, accountID string, now time.Time) ([]templates.KeyRow, templates.Plan, error) {
	ctx := c.Request().Context()
	ks, err := s.keys.List(ctx, accountID)
	if err != nil {
		return nil, templates.Plan{}, err
	}
	p, err := s.keys.Plan(ctx, accountID)
	if err != nil {
		return nil, templates.Plan{}, err
	}
	plan := templates.Plan{Name: p.Name, MaxKeys: p.MaxKeys, MonthlyQuota: p.MonthlyQuota, RatePerSec: p.RatePerSecond, Burst: p.Burst}
	window := verify.WindowAt(now, s.accountPeriod(c, accountID))
	used, err := s.keys.QuotaUsed(ctx, accountID, window.Start)
	if err != nil {
		return nil, templates.Plan{}, err
	}
	rows := make([]templates.KeyRow, len(ks))
	for i, k := range ks {
		rows[i] = keyRow(k, now)
		if rows[i].Status == keys.StatusActive {
			plan.LiveKeys++
		}
		rows[i].Quota = p.MonthlyQuota
		if k.QuotaOverride != nil {
			rows[i].Quota = *k.QuotaOverride
		}
		rows[i].Used = used[k.ID]
		// This process's count is fresher than the last flush.
		if u, w, ok := s.verifier.QuotaUsed(k.ID, now); ok && w.Start.Equal(window.Start) {
			rows[i].Used = u
		}
	}
	return rows, plan, nil
}

func (s *Server) handleKeyList(c echo.Context) error {
	l := s.layout(c, "API keys", "keys")
	rows, plan, err := s.keysAndPlan(c, accountFrom(c).ID, l.Now)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, templates.KeysList(templates.KeysPage{Layout: l, Keys: rows, Plan: plan}))
}

func (s *Server) handleKeyNew(c echo.Context) error {
	return s.renderKeyNew(c, http.StatusOK, templates.KeyForm{}, "")
}

func (s *Server) renderKeyNew(c echo.Context, status int, f templates.KeyForm, errMsg string) error {
	l := s.layout(c, "New API key", "keys")
	_, plan, err := s.keysAndPlan(c, accountFrom(c).ID, l.Now)
	if err != nil {
		return err
	}
	return render(c, status, templates.KeyNew(templates.KeyNewPage{Layout: l, Form: f, Error: errMsg, Plan: plan}))
}

// handleKeyCreate creates a key and answers with the page that shows its
// secret, once. The page is not cached (no-store) and replaces its own URL
// with the key's, so a reload does not post the form again.
func (s *Server) handleKeyCreate(c echo.Context) error {
	f := keyFormOf(c)
	st, err := settings(f)
	if err != nil {
		return s.renderKeyNew(c, http.StatusUnprocessableEntity, f, keyhold.ErrorMessage(err))
	}
	acct := accountFrom(c)
	k, secret, err := s.keys.Create(c.Request().Context(), actorOf(c), acct.ID, st)
	switch keyhold.ErrorCode(err) {
	case "":
	case keyhold.EINVALID:
		return s.renderKeyNew(c, http.StatusUnprocessableEntity, f, keyhold.ErrorMessage(err))
	case keyhold.ELIMIT, keyhold.EFORBIDDEN: // a plan limit; an unverified address (KEYHOLD_REQUIRE_VERIFIED_EMAIL)
		return s.renderKeyNew(c, http.StatusForbidden, f, keyhold.ErrorMessage(err))
	default:
		return err
	}
	s.log.Info("key created", "account_id", acct.ID, "key_id", k.ID)
	l := s.layout(c, "Your new API key", "keys")
	return render(c, http.StatusOK, templates.KeyCreated(templates.KeyCreatedPage{
		Layout: l, Key: keyRow(k, l.Now), Secret: secret.Reveal(), BaseURL: s.baseURL.String()}))
}

func (s *Server) handleKeyShow(c echo.Context) error {
	return s.renderKeyDetail(c, http.StatusOK, nil, "")
}

// renderKeyDetail renders the key page; form, when not nil, is the user's
// input to re-show with errMsg.
func (s *Server) renderKeyDetail(c echo.Context, status int, form *templates.KeyForm, errMsg string) error {
	ctx := c.Request().Context()
	acct := accountFrom(c)
	k, err := s.keys.Get(ctx, acct.ID, c.Param("id"))
	if err != nil {
		return err
	}
	entries, err := s.keys.Audit(ctx, acct.ID, k.ID)
	if err != nil {
		return err
	}
	l := s.layout(c, k.Name, "keys")
	rows, plan, err := s.keysAndPlan(c, acct.ID, l.Now)
	if err != nil {
		return err
	}
	p := templates.KeyDetailPage{Layout: l, Key: keyRow(k, l.Now), Form: formOfKey(k), Error: errMsg, Plan: plan,
		GraceOptions: graceOptions, BaseURL: s.baseURL.String()}
	for _, r := range rows {
		if r.ID == k.ID {
			p.Key.Used, p.Key.Quota = r.Used, r.Quota // quota used this period, as the list shows it
		}
	}
	if p.Usage, err = s.keyUsage(c, acct.ID, k.ID, l.Now); err != nil {
		return err
	}
	if form != nil {
		p.Form = *form
	}
	if m := metaText(k.Meta); m != "" {
		// Indented for reading; text that is no JSON at all is shown as is.
		var b bytes.Buffer
		if json.Indent(&b, []byte(m), "", "  ") == nil {
			m = b.String()
		}
		p.Meta = m
	}
	for _, e := range entries {
		p.Audit = append(p.Audit, templates.AuditRow{Action: e.Action, Detail: e.Detail, IP: e.IP, At: e.CreatedAt})
	}
	return render(c, status, templates.KeyDetail(p))
}

func (s *Server) handleKeyUpdate(c echo.Context) error {
	f := keyFormOf(c)
	st, err := settings(f)
	if err == nil {
		_, err = s.keys.Update(c.Request().Context(), actorOf(c), accountFrom(c).ID, c.Param("id"), st)
	}
	if keyhold.ErrorCode(err) == keyhold.EINVALID {
		return s.renderKeyDetail(c, http.StatusUnprocessableEntity, &f, keyhold.ErrorMessage(err))
	}
	if err != nil {
		return err
	}
	s.addFlash(c, templates.FlashSuccess, "Key settings saved.")
	return redirect(c, "/keys/"+c.Param("id"))
}

func (s *Server) handleKeyRevoke(c echo.Context) error {
	err := s.keys.Revoke(c.Request().Context(), actorOf(c), accountFrom(c).ID, c.Param("id"))
	if keyhold.ErrorCode(err) == keyhold.EINVALID {
		s.addFlash(c, templates.FlashInfo, keyhold.ErrorMessage(err))
		return redirect(c, "/keys/"+c.Param("id"))
	}
	if err != nil {
		return err
	}
	s.log.Info("key revoked", "account_id", accountFrom(c).ID, "key_id", c.Param("id"))
	s.addFlash(c, templates.FlashSuccess, "Key revoked. It no longer verifies, anywhere.")
	return redirect(c, "/keys/"+c.Param("id"))
}

// handleKeyUsageCSV answers a key's daily usage over the last 90 days,
// oldest first, as a CSV download.
func (s *Server) handleKeyUsageCSV(c echo.Context) error {
	ctx := c.Request().Context()
	acct := accountFrom(c)
	k, err := s.keys.Get(ctx, acct.ID, c.Param("id"))
	if err != nil {
		return err
	}
	days, err := s.keys.DailyUsage(ctx, acct.ID, k.ID, csvDays)
	if err != nil {
		return err
	}
	name := "keyhold-usage-" + fileSlug(k.Name) + "-" + days[len(days)-1].Day.Format(time.DateOnly) + ".csv"
	return attachment(c, "text/csv; charset=utf-8", name, usageCSV(days))
}

// graceOptions are the rotate form's choices, in keys.GracePeriods order.
var graceOptions = []templates.GraceOption{
	{Value: "0", Label: "None: the old secret stops now"},
	{Value: "1h", Label: "1 hour"},
	{Value: "24h", Label: "24 hours"},
	{Value: "168h", Label: "7 days"},
}

// handleKeyRotate rotates a key and shows its new secret once. A form that
// names no grace period gets none (DESIGN.md: "default none"); a grace the
// form does not offer is refused by the service with a clear message.
func (s *Server) handleKeyRotate(c echo.Context) error {
	grace, err := parseGrace(c.FormValue("grace"))
	if err != nil {
		grace = -1 // refused by the service with a clear message
	}
	acct := accountFrom(c)
	k, secret, err := s.keys.Rotate(c.Request().Context(), actorOf(c), acct.ID, c.Param("id"), grace)
	if keyhold.ErrorCode(err) == keyhold.EINVALID {
		s.addFlash(c, templates.FlashError, keyhold.ErrorMessage(err))
		return redirect(c, "/keys/"+c.Param("id"))
	}
	if err != nil {
		return err
	}
	s.log.Info("key rotated", "account_id", acct.ID, "key_id", k.ID)
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
