package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/verify"
)

type usageRecord struct {
	KeyID         string    `gorm:"primaryKey"`
	Hour          time.Time `gorm:"primaryKey"`
	AccountID     string
	Valid         int64
	RateLimited   int64
	QuotaExceeded int64
	ScopeDenied   int64
	TokenIssued   int64
	Invalid       int64
	Cost          int64
}

func (usageRecord) TableName() string { return "usage_hourly" }

type quotaRecord struct {
	KeyID       string    `gorm:"primaryKey"`
	WindowStart time.Time `gorm:"primaryKey"`
	Used        int64
}

func (quotaRecord) TableName() string { return "key_quota" }

// keyByHashRow is one row of KeyByHash's query: the key, its secret's
// end, its account's plan and its subscription, if any.
type keyByHashRow struct {
	Key             keyRecord `gorm:"embedded"`
	SecretExpiresAt *time.Time
	PlanID          string
	Suspended       bool
	SubStatus       *string
	SubPeriodStart  *time.Time
	SubPeriodEnd    *time.Time
}

// KeyByHash returns the key whose secret hashes to hash, with its
// account's plan and billing period, in one query; verify.ErrNotFound when
// there is none.
func (db *DB) KeyByHash(ctx context.Context, hash [32]byte) (*verify.Record, error) {
	// Into one row, not a slice: gorm makes a slice room for 20 rows
	// (6 KB here) for the one a hash can match, on every cache miss of
	// the verifier.
	var row keyByHashRow
	res := db.ctx(ctx).Raw(`SELECT k.*, s.expires_at AS secret_expires_at, a.plan_id AS plan_id, a.suspended AS suspended,
		sub.status AS sub_status, sub.period_start AS sub_period_start, sub.period_end AS sub_period_end
		FROM key_secrets s
		JOIN api_keys k ON k.id = s.key_id
		JOIN accounts a ON a.id = k.account_id
		LEFT JOIN subscriptions sub ON sub.account_id = k.account_id
		WHERE s.hash = ?`, hashHex(hash)).Scan(&row)
	if res.Error != nil {
		return nil, fmt.Errorf("store: key by hash: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, verify.ErrNotFound
	}
	k, err := row.Key.domain()
	if err != nil {
		return nil, err
	}
	r := &verify.Record{Key: k, SecretExpiresAt: utcPtr(row.SecretExpiresAt), PlanID: row.PlanID, Suspended: row.Suspended}
	if row.SubStatus != nil {
		// The one period rule, on the columns it needs.
		r.Period = (&billing.Subscription{Status: *row.SubStatus, PeriodStart: utcPtr(row.SubPeriodStart), PeriodEnd: utcPtr(row.SubPeriodEnd)}).QuotaPeriod()
	}
	return r, nil
}

// QuotaUsed returns the quota units a key used in the window starting at
// windowStart.
func (db *DB) QuotaUsed(ctx context.Context, keyID string, windowStart time.Time) (int64, error) {
	var q quotaRecord
	err := db.ctx(ctx).Where("key_id = ? AND window_start = ?", keyID, windowStart.UTC()).Take(&q).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: quota used: %w", err)
	}
	return q.Used, nil
}

// PoolUsed returns the quota units an account's pooled keys used in the
// window starting at windowStart: those of every key of the account
// without a quota override of its own (a key with one counts against it
// instead of the pool, see verify.Entry), revoked and expired keys
// included, since what they used this window stays used.
func (db *DB) PoolUsed(ctx context.Context, accountID string, windowStart time.Time) (int64, error) {
	var used int64
	err := db.ctx(ctx).Table("key_quota AS q").Select("COALESCE(SUM(q.used), 0)").
		Joins("JOIN api_keys k ON k.id = q.key_id").
		Where("k.account_id = ? AND q.window_start = ? AND k.quota_override IS NULL", accountID, windowStart.UTC()).
		Scan(&used).Error
	if err != nil {
		return 0, fmt.Errorf("store: pool used: %w", err)
	}
	return used, nil
}

// usageRowsPerInsert is how many usage rows one INSERT carries. Few
// enough that the SQLite driver, which looks each of a statement's
// parameters up among all of them (quadratic in their number), spends
// little on binding: 500 rows of ten columns made binding most of a
// flush's time.
const usageRowsPerInsert = 50

// usageBatchRetention is how long a written batch's id is remembered. A
// retry of a batch whose answer was lost is the verifier's first write once
// the database is back, so a day is ample; pruning keeps the table small.
const usageBatchRetention = 24 * time.Hour

// errBatchWritten ends the transaction of a batch that was written already.
var errBatchWritten = errors.New("store: usage batch already written")

// AddUsage adds counted usage in one transaction: hourly counts, quota
// used per window, and each key's last use. Rows that carry a batch id
// (all the same one) are added at most once: a batch whose id is recorded
// is skipped, so a flush retried after a lost COMMIT answer does not count
// twice.
func (db *DB) AddUsage(ctx context.Context, usage []verify.Usage) error {
	if len(usage) == 0 {
		return nil
	}
	batch := usage[0].Batch
	type hourKey struct {
		key  string
		hour int64
	}
	type windowKey struct {
		key   string
		start int64
	}
	hours := map[hourKey]*usageRecord{}
	windows := map[windowKey]*quotaRecord{}
	lastUsed := map[string]time.Time{}
	for _, u := range usage {
		hk := hourKey{u.KeyID, u.Hour.Unix()}
		r := hours[hk]
		if r == nil {
			r = &usageRecord{KeyID: u.KeyID, Hour: u.Hour.UTC(), AccountID: u.AccountID}
			hours[hk] = r
		}
		r.Valid += u.Valid
		r.RateLimited += u.RateLimited
		r.QuotaExceeded += u.QuotaExceeded
		r.ScopeDenied += u.ScopeDenied
		r.TokenIssued += u.TokenIssued
		r.Invalid += u.Invalid
		r.Cost += u.Cost
		if u.Cost != 0 {
			wk := windowKey{u.KeyID, u.WindowStart.UnixNano()}
			q := windows[wk]
			if q == nil {
				q = &quotaRecord{KeyID: u.KeyID, WindowStart: u.WindowStart.UTC()}
				windows[wk] = q
			}
			q.Used += u.Cost
		}
		if u.LastUsed.After(lastUsed[u.KeyID]) {
			lastUsed[u.KeyID] = u.LastUsed
		}
	}
	hourRows := make([]usageRecord, 0, len(hours))
	for _, r := range hours {
		hourRows = append(hourRows, *r)
	}
	// A stable order keeps concurrent flushes (several instances) from
	// deadlocking on PostgreSQL row locks.
	sort.Slice(hourRows, func(i, j int) bool {
		if hourRows[i].KeyID != hourRows[j].KeyID {
			return hourRows[i].KeyID < hourRows[j].KeyID
		}
		return hourRows[i].Hour.Before(hourRows[j].Hour)
	})
	quotaRows := make([]quotaRecord, 0, len(windows))
	for _, q := range windows {
		quotaRows = append(quotaRows, *q)
	}
	sort.Slice(quotaRows, func(i, j int) bool {
		if quotaRows[i].KeyID != quotaRows[j].KeyID {
			return quotaRows[i].KeyID < quotaRows[j].KeyID
		}
		return quotaRows[i].WindowStart.Before(quotaRows[j].WindowStart)
	})
	keyIDs := make([]string, 0, len(lastUsed))
	for id := range lastUsed {
		keyIDs = append(keyIDs, id)
	}
	sort.Strings(keyIDs)

	add := func(table string, cols ...string) clause.Set {
		set := make(clause.Set, len(cols))
		for i, c := range cols {
			set[i] = clause.Assignment{Column: clause.Column{Name: c}, Value: gorm.Expr(table + "." + c + " + excluded." + c)}
		}
		return set
	}
	err := db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		if batch != "" {
			// One statement both records the batch and tells whether it
			// was recorded already.
			res := tx.Exec("INSERT INTO usage_batches (id, written_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING", batch, time.Now().UTC())
			if res.Error != nil {
				return fmt.Errorf("store: usage batch: %w", res.Error)
			}
			if res.RowsAffected == 0 {
				return errBatchWritten
			}
			if err := tx.Exec("DELETE FROM usage_batches WHERE written_at < ?", time.Now().UTC().Add(-usageBatchRetention)).Error; err != nil {
				return fmt.Errorf("store: prune usage batches: %w", err)
			}
		}
		if len(hourRows) > 0 {
			err := tx.Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "key_id"}, {Name: "hour"}},
				DoUpdates: add("usage_hourly", "valid", "rate_limited", "quota_exceeded", "scope_denied", "invalid", "token_issued", "cost"),
			}).CreateInBatches(hourRows, usageRowsPerInsert).Error
			if err != nil {
				return fmt.Errorf("store: add usage: %w", err)
			}
		}
		if len(quotaRows) > 0 {
			err := tx.Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "key_id"}, {Name: "window_start"}},
				DoUpdates: add("key_quota", "used"),
			}).CreateInBatches(quotaRows, usageRowsPerInsert).Error
			if err != nil {
				return fmt.Errorf("store: add quota usage: %w", err)
			}
		}
		if !db.Postgres() {
			return addLastUsedSQLite(tx, keyIDs, lastUsed)
		}
		for _, id := range keyIDs {
			t := lastUsed[id].UTC()
			err := tx.Model(&keyRecord{}).Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", id, t).
				UpdateColumn("last_used_at", t).Error
			if err != nil {
				return fmt.Errorf("store: last used: %w", err)
			}
		}
		return nil
	})
	if errors.Is(err, errBatchWritten) {
		return nil
	}
	return err
}

var _ verify.Loader = (*DB)(nil)

// KeyUsageTotals returns every verification ever counted for a key.
func (db *DB) KeyUsageTotals(ctx context.Context, keyID string) (keys.UsageCounts, error) {
	var u keys.UsageCounts
	err := db.ctx(ctx).Model(&usageRecord{}).Where("key_id = ?", keyID).
		Select(usageSums).Scan(&u).Error
	if err != nil {
		return u, fmt.Errorf("store: usage totals: %w", err)
	}
	return u, nil
}

// KeyUsageHourly returns a key's hourly usage from since on, oldest first.
func (db *DB) KeyUsageHourly(ctx context.Context, keyID string, since time.Time) ([]keys.HourlyUsage, error) {
	var recs []usageRecord
	if err := db.ctx(ctx).Where("key_id = ? AND hour >= ?", keyID, since.UTC()).Order("hour").Find(&recs).Error; err != nil {
		return nil, fmt.Errorf("store: hourly usage: %w", err)
	}
	return hourlyOf(recs), nil
}

// AccountUsageHourly returns the hourly usage of all of an account's keys
// together, revoked ones included, from since on, oldest first: one entry
// per hour that has any. Hours are summed in SQL (portable: no date
// functions); days are the caller's to make.
func (db *DB) AccountUsageHourly(ctx context.Context, accountID string, since time.Time) ([]keys.HourlyUsage, error) {
	var recs []usageRecord
	err := db.ctx(ctx).Model(&usageRecord{}).
		Select("hour, "+usageSums).
		Where("account_id = ? AND hour >= ?", accountID, since.UTC()).
		Group("hour").Order("hour").Find(&recs).Error
	if err != nil {
		return nil, fmt.Errorf("store: account hourly usage: %w", err)
	}
	return hourlyOf(recs), nil
}

// hourlyOf maps usage rows to the domain's hours.
func hourlyOf(recs []usageRecord) []keys.HourlyUsage {
	out := make([]keys.HourlyUsage, len(recs))
	for i, r := range recs {
		out[i] = keys.HourlyUsage{Hour: r.Hour.UTC(), UsageCounts: keys.UsageCounts{
			Valid: r.Valid, RateLimited: r.RateLimited, QuotaExceeded: r.QuotaExceeded, ScopeDenied: r.ScopeDenied, Invalid: r.Invalid, TokenIssued: r.TokenIssued, Cost: r.Cost}}
	}
	return out
}

// lastUsedPerUpdate is how many keys' last use one SQLite UPDATE sets.
const lastUsedPerUpdate = 100

// addLastUsedSQLite moves each key's last_used_at on to lastUsed[id] (never
// back), lastUsedPerUpdate keys a statement. SQLite's driver prepares
// every statement anew, so a statement per key made the update most of a
// flush's time. PostgreSQL keeps one statement per key, in id order: its
// driver caches the statement, and a join update would lock rows in an
// order of the plan's choosing, so two instances' flushes could deadlock.
func addLastUsedSQLite(tx *gorm.DB, keyIDs []string, lastUsed map[string]time.Time) error {
	for chunk := range slices.Chunk(keyIDs, lastUsedPerUpdate) {
		var q strings.Builder
		q.WriteString("UPDATE api_keys SET last_used_at = v.column2 FROM (VALUES ")
		args := make([]any, 0, 2*len(chunk))
		for i, id := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?)")
			args = append(args, id, lastUsed[id].UTC())
		}
		q.WriteString(") AS v WHERE api_keys.id = v.column1 AND (api_keys.last_used_at IS NULL OR api_keys.last_used_at < v.column2)")
		if err := tx.Exec(q.String(), args...).Error; err != nil {
			return fmt.Errorf("store: last used: %w", err)
		}
	}
	return nil
}
