package store

// The operator console's queries: every account, key and Stripe event,
// the audit log, and usage across accounts. Paging is by offset, newest
// first, with a stable tie-break on the id. All SQL here runs unchanged on
// SQLite and PostgreSQL.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/team"
)

// likeEscape makes s a LIKE pattern that matches it anywhere, with its own
// % and _ taken literally (ESCAPE '!').
func likeEscape(s string) string {
	r := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")
	return "%" + r.Replace(s) + "%"
}

// Accounts returns the accounts q selects, newest first, with their
// subscription and key counts.
func (db *DB) Accounts(ctx context.Context, q auth.AccountQuery) ([]auth.AccountSummary, error) {
	// gorm does not fill fields of an embedded unexported struct: the row
	// names its columns.
	type row struct {
		ID               string
		Name             string
		Suspended        bool
		PlanID           string
		CreatedAt        time.Time
		UpdatedAt        time.Time
		StripeCustomerID *string
		SubStatus        *string
		PeriodStart      *time.Time
		PeriodEnd        *time.Time
		OwnerEmail       *string
		Members          int
	}
	// The owner shown is the first (oldest) one.
	g := db.ctx(ctx).Table("accounts AS a").
		Select("a.id, a.name, a.suspended, a.plan_id, a.created_at, a.updated_at, a.stripe_customer_id, " +
			"s.status AS sub_status, s.period_start, s.period_end, " +
			firstOwnerEmail + " AS owner_email, " +
			"(SELECT COUNT(*) FROM memberships m WHERE m.account_id = a.id) AS members").
		Joins("LEFT JOIN subscriptions s ON s.account_id = a.id")
	if q.Email != "" {
		pat := likeEscape(strings.ToLower(q.Email))
		g = g.Where("(LOWER(a.name) LIKE ? ESCAPE '!' OR EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id "+
			"WHERE m.account_id = a.id AND u.email LIKE ? ESCAPE '!'))", pat, pat)
	}
	if q.PlanID != "" {
		g = g.Where("a.plan_id = ?", q.PlanID)
	}
	switch q.Status {
	case "":
	case auth.StatusNone:
		g = g.Where("s.account_id IS NULL")
	default:
		g = g.Where("s.status = ?", q.Status)
	}
	var rows []row
	if err := g.Order("a.created_at DESC, a.id DESC").Limit(q.Limit).Offset(q.Offset).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	out := make([]auth.AccountSummary, len(rows))
	ids := make([]string, len(rows))
	for i, r := range rows {
		out[i] = auth.AccountSummary{Account: team.Account{ID: r.ID, Name: r.Name, Suspended: r.Suspended, PlanID: r.PlanID,
			CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}, Members: r.Members, PeriodStart: utcPtr(r.PeriodStart), PeriodEnd: utcPtr(r.PeriodEnd)}
		if r.OwnerEmail != nil {
			out[i].OwnerEmail = *r.OwnerEmail
		}
		if r.StripeCustomerID != nil {
			out[i].CustomerID = *r.StripeCustomerID
		}
		if r.SubStatus != nil {
			out[i].SubscriptionStatus = *r.SubStatus
		}
		ids[i] = r.ID
	}
	if len(ids) == 0 {
		return out, nil
	}
	var counts []struct {
		AccountID string
		Total     int
		Live      int
	}
	err := db.ctx(ctx).Model(&keyRecord{}).
		Select("account_id, COUNT(*) AS total, "+
			"COALESCE(SUM(CASE WHEN revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?) THEN 1 ELSE 0 END), 0) AS live", time.Now().UTC()).
		Where("account_id IN ?", ids).Group("account_id").Scan(&counts).Error
	if err != nil {
		return nil, fmt.Errorf("store: account key counts: %w", err)
	}
	byID := make(map[string]int, len(ids))
	for i, id := range ids {
		byID[id] = i
	}
	for _, c := range counts {
		out[byID[c.AccountID]].Keys = c.Total
		out[byID[c.AccountID]].LiveKeys = c.Live
	}
	return out, nil
}

// AccountsByPlan counts accounts per plan id.
func (db *DB) AccountsByPlan(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		PlanID string
		N      int
	}
	if err := db.ctx(ctx).Model(&accountRecord{}).Select("plan_id, COUNT(*) AS n").Group("plan_id").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: accounts by plan: %w", err)
	}
	m := make(map[string]int, len(rows))
	for _, r := range rows {
		m[r.PlanID] = r.N
	}
	return m, nil
}

// AuditLog returns the entries q selects, newest first, with the emails of
// their account and actor.
func (db *DB) AuditLog(ctx context.Context, q auth.AuditQuery) ([]auth.AuditRecord, error) {
	g := db.ctx(ctx).Table("audit_log AS l").
		Select("l.*, acc.name AS account_name, act.email AS actor_email").
		Joins("LEFT JOIN accounts acc ON acc.id = l.account_id").
		Joins("LEFT JOIN users act ON act.id = l.actor_id")
	if q.AccountID != "" {
		g = g.Where("l.account_id = ?", q.AccountID)
	}
	if q.UserID != "" {
		g = g.Where("(l.actor_id = ? OR (l.target_type = ? AND l.target_id = ?))", q.UserID, audit.TargetUser, q.UserID)
	}
	if strings.HasSuffix(q.Action, ".") {
		g = g.Where("l.action LIKE ? ESCAPE '!'", strings.TrimPrefix(likeEscape(q.Action), "%"))
	} else if q.Action != "" {
		g = g.Where("l.action = ?", q.Action)
	}
	if !q.From.IsZero() {
		g = g.Where("l.created_at >= ?", q.From.UTC())
	}
	if !q.To.IsZero() {
		g = g.Where("l.created_at < ?", q.To.UTC())
	}
	var rows []struct {
		ID, AccountID, ActorID, RootKeyID, Action, TargetType, TargetID, IP, Detail string
		CreatedAt                                                                   time.Time
		AccountName, ActorEmail                                                     *string
	}
	if err := g.Order("l.created_at DESC, l.id DESC").Limit(q.Limit).Offset(q.Offset).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	out := make([]auth.AuditRecord, len(rows))
	for i, r := range rows {
		out[i] = auth.AuditRecord{Entry: audit.Entry{ID: r.ID, AccountID: r.AccountID, ActorID: r.ActorID, RootKeyID: r.RootKeyID, Action: r.Action,
			TargetType: r.TargetType, TargetID: r.TargetID, IP: r.IP, Detail: r.Detail, CreatedAt: r.CreatedAt.UTC()}}
		if r.AccountName != nil {
			out[i].AccountName = *r.AccountName
		}
		if r.ActorEmail != nil {
			out[i].ActorEmail = *r.ActorEmail
		}
	}
	return out, nil
}

// FindKeys returns the keys f selects, newest first, with their owners'
// emails, in one query; with f.ID set, a second one fills OldSecretUntil.
func (db *DB) FindKeys(ctx context.Context, f keys.KeyFilter) ([]keys.OwnedKey, error) {
	g := db.ctx(ctx).Table("api_keys AS k").Select("k.*, COALESCE(a.name, '') AS account_name, " + createdByColumn).
		Joins("LEFT JOIN accounts a ON a.id = k.account_id").
		Joins(createdByJoin)
	if f.ID != "" {
		g = g.Where("k.id = ?", f.ID)
	}
	if f.AccountID != "" {
		g = g.Where("k.account_id = ?", f.AccountID)
	}
	if s := f.Search; s != "" {
		g = g.Where("(LOWER(k.name) LIKE ? ESCAPE '!' OR SUBSTR(k.display, LENGTH(k.display) - 3) = ?)",
			likeEscape(strings.ToLower(s)), s)
	}
	g = whereStatus(g, f.Status, f.Now)
	g = g.Order("k.created_at DESC, k.id DESC")
	if f.Limit > 0 {
		g = g.Limit(f.Limit)
	}
	if f.Offset > 0 {
		g = g.Offset(f.Offset)
	}
	var rows []struct {
		Key         keyRecord `gorm:"embedded"`
		AccountName string
	}
	if err := g.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: find keys: %w", err)
	}
	out := make([]keys.OwnedKey, 0, len(rows))
	for i := range rows {
		k, err := rows[i].Key.domain()
		if err != nil {
			return nil, err
		}
		out = append(out, keys.OwnedKey{Key: k, AccountName: rows[i].AccountName})
	}
	if f.ID != "" && len(out) == 1 {
		if err := db.fillOldSecretUntil(ctx, out[0].Key); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fillOldSecretUntil sets k.OldSecretUntil to the latest end of a secret
// rotated away: the previous secret's, in a grace period (or past, which
// the key service ignores).
func (db *DB) fillOldSecretUntil(ctx context.Context, k *keys.Key) error {
	var old []secretRecord
	err := db.ctx(ctx).Where("key_id = ? AND expires_at IS NOT NULL", k.ID).Order("expires_at DESC").Limit(1).Find(&old).Error
	if err != nil {
		return fmt.Errorf("store: key old secret: %w", err)
	}
	if len(old) == 1 {
		k.OldSecretUntil = utcPtr(old[0].ExpiresAt)
	}
	return nil
}

// OverrideKey sets a key's overrides (nil: the plan's) and appends e, in
// one transaction.
func (db *DB) OverrideKey(ctx context.Context, keyID string, rate, burst *int, quota *int64, e audit.Entry) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&keyRecord{}).Where("id = ?", keyID).
			Updates(map[string]any{"rate_override": rate, "burst_override": burst, "quota_override": quota, "updated_at": time.Now().UTC()})
		if res.Error != nil {
			return fmt.Errorf("store: key overrides: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return keys.ErrNotFound
		}
		return db.writeAudit(tx, e)
	})
}

// usageSums is the SELECT list of summed usage counts.
const usageSums = "COALESCE(SUM(valid),0) AS valid, COALESCE(SUM(rate_limited),0) AS rate_limited, " +
	"COALESCE(SUM(quota_exceeded),0) AS quota_exceeded, COALESCE(SUM(scope_denied),0) AS scope_denied, " +
	"COALESCE(SUM(invalid),0) AS invalid, COALESCE(SUM(token_issued),0) AS token_issued, COALESCE(SUM(cost),0) AS cost"

// UsageByHour returns every key's usage summed per hour from since on,
// oldest first.
func (db *DB) UsageByHour(ctx context.Context, since time.Time) ([]keys.HourlyUsage, error) {
	var rows []struct {
		Hour time.Time
		keys.UsageCounts
	}
	err := db.ctx(ctx).Model(&usageRecord{}).Select("hour, "+usageSums).Where("hour >= ?", since.UTC()).
		Group("hour").Order("hour").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: usage by hour: %w", err)
	}
	out := make([]keys.HourlyUsage, len(rows))
	for i, r := range rows {
		out[i] = keys.HourlyUsage{Hour: r.Hour.UTC(), UsageCounts: r.UsageCounts}
	}
	return out, nil
}

// TopKeys returns the limit keys with the most verifications from since
// on, most first.
func (db *DB) TopKeys(ctx context.Context, since time.Time, limit int) ([]keys.KeyVolume, error) {
	var sums []struct {
		KeyID string
		keys.UsageCounts
	}
	err := db.ctx(ctx).Model(&usageRecord{}).Select("key_id, "+usageSums).Where("hour >= ?", since.UTC()).
		Group("key_id").Order("SUM(valid + rate_limited + quota_exceeded + scope_denied + invalid + token_issued) DESC, key_id").Limit(limit).Scan(&sums).Error
	if err != nil {
		return nil, fmt.Errorf("store: top keys: %w", err)
	}
	if len(sums) == 0 {
		return nil, nil
	}
	ids := make([]string, len(sums))
	for i, s := range sums {
		ids[i] = s.KeyID
	}
	var names []struct {
		ID, AccountID, Name, Display, AccountName string
		RevokedAt                                 *time.Time
	}
	err = db.ctx(ctx).Table("api_keys AS k").Select("k.id, k.account_id, k.name, k.display, k.revoked_at, a.name AS account_name").
		Joins("JOIN accounts a ON a.id = k.account_id").Where("k.id IN ?", ids).Scan(&names).Error
	if err != nil {
		return nil, fmt.Errorf("store: top keys: %w", err)
	}
	out := make([]keys.KeyVolume, len(sums))
	for i, s := range sums {
		out[i] = keys.KeyVolume{KeyID: s.KeyID, UsageCounts: s.UsageCounts}
		for _, n := range names {
			if n.ID == s.KeyID {
				out[i].AccountID, out[i].Name, out[i].Display, out[i].AccountName, out[i].RevokedAt = n.AccountID, n.Name, n.Display, n.AccountName, utcPtr(n.RevokedAt)
			}
		}
	}
	return out, nil
}

// KeyVolumes returns each key's usage from since on; keys without any are
// left out.
func (db *DB) KeyVolumes(ctx context.Context, keyIDs []string, since time.Time) (map[string]keys.UsageCounts, error) {
	var sums []struct {
		KeyID string
		keys.UsageCounts
	}
	err := db.ctx(ctx).Model(&usageRecord{}).Select("key_id, "+usageSums).Where("hour >= ? AND key_id IN ?", since.UTC(), keyIDs).
		Group("key_id").Scan(&sums).Error
	if err != nil {
		return nil, fmt.Errorf("store: key volumes: %w", err)
	}
	m := make(map[string]keys.UsageCounts, len(sums))
	for _, s := range sums {
		m[s.KeyID] = s.UsageCounts
	}
	return m, nil
}

// QuotaUsedByAccount returns, for each account of windows, the quota its
// keys used in the window starting at windows[account].
func (db *DB) QuotaUsedByAccount(ctx context.Context, windows map[string]time.Time) (map[string]int64, error) {
	m := make(map[string]int64, len(windows))
	conds := make([]string, 0, len(windows))
	args := make([]any, 0, 2*len(windows))
	flush := func() error {
		if len(conds) == 0 {
			return nil
		}
		var rows []struct {
			AccountID string
			Used      int64
		}
		err := db.ctx(ctx).Table("key_quota AS q").Select("k.account_id, COALESCE(SUM(q.used),0) AS used").
			Joins("JOIN api_keys k ON k.id = q.key_id").Where(strings.Join(conds, " OR "), args...).
			Group("k.account_id").Scan(&rows).Error
		if err != nil {
			return fmt.Errorf("store: quota used by account: %w", err)
		}
		for _, r := range rows {
			m[r.AccountID] = r.Used
		}
		conds, args = conds[:0], args[:0]
		return nil
	}
	for id, start := range windows {
		conds = append(conds, "(k.account_id = ? AND q.window_start = ?)")
		args = append(args, id, start.UTC())
		if len(conds) == 200 {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return m, nil
}

func (r *eventRecord) domain() billing.EventRecord {
	return billing.EventRecord{ID: r.ID, Type: r.Type, Created: r.Created, AccountID: r.AccountID, Outcome: r.Outcome,
		Detail: r.Detail, Payload: r.Payload, APIVersion: r.APIVersion, ReceivedAt: r.ReceivedAt.UTC()}
}

// StripeEvent returns one recorded event; billing.ErrNotFound when there
// is none.
func (db *DB) StripeEvent(ctx context.Context, id string) (*billing.EventRecord, error) {
	var rec eventRecord
	err := db.ctx(ctx).Where("id = ?", id).Take(&rec).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, billing.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: stripe event: %w", err)
	}
	ev := rec.domain()
	return &ev, nil
}

// FindStripeEvents returns the recorded events q selects, newest first.
func (db *DB) FindStripeEvents(ctx context.Context, q billing.EventQuery) ([]billing.EventRecord, error) {
	g := db.ctx(ctx).Model(&eventRecord{})
	if q.Outcome != "" {
		g = g.Where("outcome = ?", q.Outcome)
	}
	if q.Type != "" {
		g = g.Where("type = ?", q.Type)
	}
	var recs []eventRecord
	if err := g.Order("received_at DESC, id DESC").Limit(q.Limit).Offset(q.Offset).Find(&recs).Error; err != nil {
		return nil, fmt.Errorf("store: stripe events: %w", err)
	}
	out := make([]billing.EventRecord, len(recs))
	for i := range recs {
		out[i] = recs[i].domain()
	}
	return out, nil
}

// AssignPlan puts an account on planID and appends e, in one transaction.
func (db *DB) AssignPlan(ctx context.Context, accountID, planID string, e audit.Entry) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&accountRecord{}).Where("id = ?", accountID).
			Updates(map[string]any{"plan_id": planID, "updated_at": time.Now().UTC()})
		if res.Error != nil {
			return fmt.Errorf("store: assign plan: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return billing.ErrNotFound
		}
		return db.writeAudit(tx, e)
	})
}

// whereStatus narrows a query over api_keys AS k to the keys whose status
// at now is status (keys.StatusActive, StatusRevoked, StatusExpired);
// any other value, such as "", selects every key.
func whereStatus(g *gorm.DB, status string, now time.Time) *gorm.DB {
	switch status {
	case keys.StatusActive:
		return g.Where("k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ?)", now.UTC())
	case keys.StatusRevoked:
		return g.Where("k.revoked_at IS NOT NULL")
	case keys.StatusExpired:
		return g.Where("k.revoked_at IS NULL AND k.expires_at <= ?", now.UTC())
	}
	return g
}
