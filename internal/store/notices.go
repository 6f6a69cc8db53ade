package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/notices"
	"github.com/keyhold/keyhold/internal/team"
)

type quotaNoticeRecord struct {
	Subject     string    `gorm:"primaryKey"`
	WindowStart time.Time `gorm:"primaryKey"`
	Percent     int       `gorm:"primaryKey"`
	AccountID   string
	Used        int64
	QuotaLimit  int64
	WindowEnd   time.Time
	CreatedAt   time.Time
}

func (quotaNoticeRecord) TableName() string { return "quota_notices" }

type expiryNoticeRecord struct {
	KeyID     string    `gorm:"primaryKey"`
	ExpiresAt time.Time `gorm:"primaryKey"`
	Days      int       `gorm:"primaryKey"`
	AccountID string
	CreatedAt time.Time
}

func (expiryNoticeRecord) TableName() string { return "expiry_notices" }

type noticeDismissalRecord struct {
	UserID    string `gorm:"primaryKey"`
	NoticeID  string `gorm:"primaryKey"`
	CreatedAt time.Time
}

func (noticeDismissalRecord) TableName() string { return "notice_dismissals" }

type noticePrefsRecord struct {
	UserID     string `gorm:"primaryKey"`
	QuotaMail  bool
	ExpiryMail bool
	UpdatedAt  time.Time
}

func (noticePrefsRecord) TableName() string { return "notice_prefs" }

// noticeRecipient is an owner or admin who takes a kind of notice mail.
type noticeRecipient struct {
	Email       string
	AccountName string
	KeyName     string
}

// noticeRecipients returns the owners and admins of accountID who have not
// turned mail of kind off, with the account's and the key's names.
func noticeRecipients(tx *gorm.DB, accountID, keyID, kind string) ([]noticeRecipient, error) {
	col := "quota_mail"
	if kind == notices.KindExpiry {
		col = "expiry_mail"
	}
	var rows []noticeRecipient
	err := tx.Raw(`SELECT u.email, a.name AS account_name, COALESCE(k.name, '') AS key_name
FROM memberships m
JOIN users u ON u.id = m.user_id
JOIN accounts a ON a.id = m.account_id
LEFT JOIN api_keys k ON k.id = ?
LEFT JOIN notice_prefs p ON p.user_id = m.user_id
WHERE m.account_id = ? AND m.role IN (?, ?) AND (p.`+col+` IS NULL OR p.`+col+` = ?)
ORDER BY u.email`, keyID, accountID, string(team.Owner), string(team.Admin), true).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: notice recipients: %w", err)
	}
	return rows, nil
}

// queueNotices queues m to each recipient of its kind in tx.
func (db *DB) queueNotices(ctx context.Context, tx *gorm.DB, accountID string, m notices.Mail) error {
	rs, err := noticeRecipients(tx, accountID, m.KeyID, m.Kind)
	if err != nil || len(rs) == 0 {
		return err
	}
	stx, err := db.outboxTx(tx)
	if err != nil {
		return err
	}
	for _, r := range rs {
		m.To, m.AccountName, m.KeyName = r.Email, r.AccountName, r.KeyName
		if err := db.outbox.QueueNoticeTx(ctx, stx, m); err != nil {
			return fmt.Errorf("store: queue notice mail: %w", err)
		}
	}
	return nil
}

// RecordThreshold implements notices.Store.
func (db *DB) RecordThreshold(ctx context.Context, c notices.Crossing, mail bool, now time.Time) (bool, error) {
	created := false
	err := db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		// A shared quota's subject is its account (migration 0019): key
		// and account ids are both ULIDs, so the two never meet.
		rec := quotaNoticeRecord{Subject: c.Subject(), WindowStart: c.Window.Start.UTC(), Percent: c.Percent, AccountID: c.AccountID,
			Used: c.Used, QuotaLimit: c.Limit, WindowEnd: c.Window.End.UTC(), CreatedAt: now.UTC()}
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&rec)
		if res.Error != nil {
			return fmt.Errorf("store: record quota notice: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil // recorded before, here or on another instance
		}
		created = true
		// The event goes with the record: once per threshold per window,
		// whichever instance crossed it.
		// key_id is null for a shared quota, whose crossing no one key
		// made; scope says which quota it is.
		var keyID any = c.KeyID
		if c.Pooled() {
			keyID = nil
		}
		if err := db.writeEvent(ctx, tx, events.QuotaThreshold, c.AccountID, map[string]any{"key_id": keyID, "account_id": c.AccountID,
			"scope": c.Scope(), "percent": c.Percent, "used": c.Used, "limit": c.Limit,
			"window_start": c.Window.Start.UTC(), "window_end": c.Window.End.UTC()}); err != nil {
			return err
		}
		if !mail {
			return nil
		}
		return db.queueNotices(ctx, tx, c.AccountID, notices.Mail{Kind: notices.KindQuota, KeyID: c.KeyID, Pooled: c.Pooled(),
			Percent: c.Percent, Used: c.Used, Limit: c.Limit, WindowEnd: c.Window.End.UTC()})
	})
	return created, err
}

// ExpiringKeys implements notices.Store.
func (db *DB) ExpiringKeys(ctx context.Context, now, until time.Time) ([]notices.Expiring, error) {
	var rows []struct {
		ID, AccountID, Name string
		ExpiresAt           time.Time
	}
	if err := db.ctx(ctx).Raw(`SELECT id, account_id, name, expires_at FROM api_keys
WHERE revoked_at IS NULL AND expires_at > ? AND expires_at <= ? ORDER BY expires_at, id`, now.UTC(), until.UTC()).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: expiring keys: %w", err)
	}
	out := make([]notices.Expiring, len(rows))
	for i, r := range rows {
		out[i] = notices.Expiring{KeyID: r.ID, AccountID: r.AccountID, Name: r.Name, ExpiresAt: r.ExpiresAt.UTC()}
	}
	return out, nil
}

// RecordExpiry implements notices.Store.
func (db *DB) RecordExpiry(ctx context.Context, e notices.Expiring, mail bool, now time.Time) (bool, error) {
	created := false
	err := db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		rec := expiryNoticeRecord{KeyID: e.KeyID, ExpiresAt: e.ExpiresAt.UTC(), Days: e.Days, AccountID: e.AccountID, CreatedAt: now.UTC()}
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&rec)
		if res.Error != nil {
			return fmt.Errorf("store: record expiry notice: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil
		}
		created = true
		if err := db.writeEvent(ctx, tx, events.KeyExpiring, e.AccountID, map[string]any{"key_id": e.KeyID, "account_id": e.AccountID,
			"name": e.Name, "expires_at": e.ExpiresAt.UTC(), "days": e.Days}); err != nil {
			return err
		}
		if !mail {
			return nil
		}
		return db.queueNotices(ctx, tx, e.AccountID, notices.Mail{Kind: notices.KindExpiry, KeyID: e.KeyID,
			ExpiresAt: e.ExpiresAt.UTC(), Days: e.Days})
	})
	return created, err
}

// Dismissed implements notices.Store.
func (db *DB) Dismissed(ctx context.Context, userID string, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	var got []string
	if err := db.ctx(ctx).Model(&noticeDismissalRecord{}).Where("user_id = ? AND notice_id IN ?", userID, ids).
		Pluck("notice_id", &got).Error; err != nil {
		return nil, fmt.Errorf("store: dismissed notices: %w", err)
	}
	for _, id := range got {
		out[id] = true
	}
	return out, nil
}

// Dismiss implements notices.Store.
func (db *DB) Dismiss(ctx context.Context, userID, noticeID string, now time.Time) error {
	rec := noticeDismissalRecord{UserID: userID, NoticeID: noticeID, CreatedAt: now.UTC()}
	if err := db.ctx(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&rec).Error; err != nil {
		return fmt.Errorf("store: dismiss notice: %w", err)
	}
	return nil
}

// NoticePrefs implements notices.Store.
func (db *DB) NoticePrefs(ctx context.Context, userID string) (notices.Prefs, error) {
	var recs []noticePrefsRecord
	if err := db.ctx(ctx).Where("user_id = ?", userID).Limit(1).Find(&recs).Error; err != nil {
		return notices.Prefs{}, fmt.Errorf("store: notice preferences: %w", err)
	}
	if len(recs) == 0 {
		return notices.DefaultPrefs, nil
	}
	return notices.Prefs{QuotaMail: recs[0].QuotaMail, ExpiryMail: recs[0].ExpiryMail}, nil
}

// SetNoticePrefs implements notices.Store.
func (db *DB) SetNoticePrefs(ctx context.Context, userID string, p notices.Prefs, now time.Time) error {
	rec := noticePrefsRecord{UserID: userID, QuotaMail: p.QuotaMail, ExpiryMail: p.ExpiryMail, UpdatedAt: now.UTC()}
	err := db.ctx(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "user_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"quota_mail", "expiry_mail", "updated_at"}),
	}).Create(&rec).Error
	if err != nil {
		return fmt.Errorf("store: save notice preferences: %w", err)
	}
	return nil
}

var _ notices.Store = (*DB)(nil)

// PruneNotices implements notices.Store, in one transaction.
func (db *DB) PruneNotices(ctx context.Context, windowsEnded, expiredBefore, dismissedBefore time.Time) (int64, error) {
	var n int64
	err := db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		for _, d := range []struct {
			what  string
			model any
			where string
			t     time.Time
		}{
			{"quota notices", &quotaNoticeRecord{}, "window_end < ?", windowsEnded},
			{"expiry notices", &expiryNoticeRecord{}, "expires_at < ?", expiredBefore},
			{"notice dismissals", &noticeDismissalRecord{}, "created_at < ?", dismissedBefore},
		} {
			res := tx.Where(d.where, d.t.UTC()).Delete(d.model)
			if res.Error != nil {
				return fmt.Errorf("store: prune %s: %w", d.what, res.Error)
			}
			n += res.RowsAffected
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
