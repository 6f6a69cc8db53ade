package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
)

type accountRecord struct {
	ID           string `gorm:"primaryKey"`
	Email        string
	PasswordHash string
	IsAdmin      bool
	Suspended    bool
	PlanID       string `gorm:"default:free"` // empty on insert: the column default
	// EmailVerifiedAt is NULL until the address is verified.
	EmailVerifiedAt *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

func (accountRecord) TableName() string { return "accounts" }

func (r *accountRecord) domain() *auth.Account {
	return &auth.Account{ID: r.ID, Email: r.Email, PasswordHash: r.PasswordHash, IsAdmin: r.IsAdmin, Suspended: r.Suspended,
		PlanID: r.PlanID, EmailVerifiedAt: utcPtr(r.EmailVerifiedAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

type sessionRecord struct {
	ID        string `gorm:"primaryKey"`
	AccountID string
	CreatedAt time.Time
	ExpiresAt time.Time
	IP        string `gorm:"column:ip"`
	UserAgent string
}

func (sessionRecord) TableName() string { return "sessions" }

// CreateAccount inserts a new account; auth.ErrEmailTaken on a duplicate.
func (db *DB) CreateAccount(ctx context.Context, a *auth.Account) error {
	rec := accountRecord{ID: a.ID, Email: a.Email, PasswordHash: a.PasswordHash, IsAdmin: a.IsAdmin, EmailVerifiedAt: a.EmailVerifiedAt,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
	if err := db.ctx(ctx).Create(&rec).Error; err != nil {
		if isUnique(err) {
			return auth.ErrEmailTaken
		}
		return fmt.Errorf("store: create account: %w", err)
	}
	return nil
}

// AccountByID returns an account; auth.ErrNotFound when there is none.
func (db *DB) AccountByID(ctx context.Context, id string) (*auth.Account, error) {
	return db.accountWhere(ctx, "id = ?", id)
}

// AccountByEmail returns the account with a lower-cased email.
func (db *DB) AccountByEmail(ctx context.Context, email string) (*auth.Account, error) {
	return db.accountWhere(ctx, "email = ?", email)
}

func (db *DB) accountWhere(ctx context.Context, query string, arg any) (*auth.Account, error) {
	var rec accountRecord
	err := db.ctx(ctx).Where(query, arg).Take(&rec).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: account: %w", err)
	}
	return rec.domain(), nil
}

// SetAdmin flags or unflags an account as operator.
func (db *DB) SetAdmin(ctx context.Context, accountID string, admin bool) error {
	res := db.ctx(ctx).Model(&accountRecord{}).Where("id = ?", accountID).
		Updates(map[string]any{"is_admin": admin, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return fmt.Errorf("store: set admin: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return auth.ErrNotFound
	}
	return nil
}

// SetOperator sets or clears an account's operator flag and appends e, in
// one transaction. With keepOne, clearing the flag is refused with
// auth.ErrLastOperator unless another operator who is not suspended
// exists (a suspended one cannot use the console); the check is part of
// the UPDATE, so the flag is never cleared on a stale count.
func (db *DB) SetOperator(ctx context.Context, accountID string, operator, keepOne bool, e audit.Entry) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx.Model(&accountRecord{}).Where("id = ?", accountID)
		if keepOne && !operator {
			if db.Postgres() {
				// Under READ COMMITTED two operators demoting themselves
				// at once would each see the other in the EXISTS below
				// and leave none: lock every operator's row first, so the
				// second waits and then sees the first's demotion.
				// (SQLite runs one write transaction at a time.)
				if err := tx.Exec("SELECT id FROM accounts WHERE is_admin FOR UPDATE").Error; err != nil {
					return fmt.Errorf("store: set operator: lock operators: %w", err)
				}
			}
			q = q.Where("EXISTS (SELECT 1 FROM accounts o WHERE o.is_admin AND NOT o.suspended AND o.id <> ?)", accountID)
		}
		res := q.Updates(map[string]any{"is_admin": operator, "updated_at": time.Now().UTC()})
		if res.Error != nil {
			return fmt.Errorf("store: set operator: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			if _, err := accountIn(tx, accountID); err != nil {
				return err
			}
			return auth.ErrLastOperator
		}
		return writeAudit(tx, e)
	})
}

// SetSuspended sets or clears an account's suspension and appends e, in
// one transaction.
func (db *DB) SetSuspended(ctx context.Context, accountID string, suspended bool, e audit.Entry) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&accountRecord{}).Where("id = ?", accountID).
			Updates(map[string]any{"suspended": suspended, "updated_at": time.Now().UTC()})
		if res.Error != nil {
			return fmt.Errorf("store: set suspended: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return auth.ErrNotFound
		}
		return writeAudit(tx, e)
	})
}

// accountIn reads an account inside a transaction; auth.ErrNotFound when
// there is none.
func accountIn(tx *gorm.DB, id string) (*auth.Account, error) {
	var rec accountRecord
	err := tx.Where("id = ?", id).Take(&rec).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: account: %w", err)
	}
	return rec.domain(), nil
}

// SetPlan puts an account on a plan.
func (db *DB) SetPlan(ctx context.Context, accountID, planID string) error {
	res := db.ctx(ctx).Model(&accountRecord{}).Where("id = ?", accountID).
		Updates(map[string]any{"plan_id": planID, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return fmt.Errorf("store: set plan: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return auth.ErrNotFound
	}
	return nil
}

// SetPassword stores a new password hash and ends every session of the
// account, in one transaction.
func (db *DB) SetPassword(ctx context.Context, accountID, hash string) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&accountRecord{}).Where("id = ?", accountID).
			Updates(map[string]any{"password_hash": hash, "updated_at": time.Now().UTC()})
		if res.Error != nil {
			return fmt.Errorf("store: set password: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return auth.ErrNotFound
		}
		if err := tx.Where("account_id = ?", accountID).Delete(&sessionRecord{}).Error; err != nil {
			return fmt.Errorf("store: end sessions: %w", err)
		}
		return nil
	})
}

// CreateSession inserts a session.
func (db *DB) CreateSession(ctx context.Context, s *auth.Session) error {
	rec := sessionRecord{ID: s.ID, AccountID: s.AccountID, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, IP: s.IP, UserAgent: s.UserAgent}
	if err := db.ctx(ctx).Create(&rec).Error; err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	return nil
}

// SessionByID returns a session; auth.ErrNotFound when there is none.
func (db *DB) SessionByID(ctx context.Context, id string) (*auth.Session, error) {
	var rec sessionRecord
	err := db.ctx(ctx).Where("id = ?", id).Take(&rec).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: session: %w", err)
	}
	return &auth.Session{ID: rec.ID, AccountID: rec.AccountID, CreatedAt: rec.CreatedAt.UTC(), ExpiresAt: rec.ExpiresAt.UTC(), IP: rec.IP, UserAgent: rec.UserAgent}, nil
}

// DeleteSession ends a session; auth.ErrNotFound when there was none.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	res := db.ctx(ctx).Where("id = ?", id).Delete(&sessionRecord{})
	if res.Error != nil {
		return fmt.Errorf("store: delete session: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return auth.ErrNotFound
	}
	return nil
}

// DeleteExpiredSessions removes sessions that ended before now.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res := db.ctx(ctx).Where("expires_at < ?", now.UTC()).Delete(&sessionRecord{})
	if res.Error != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", res.Error)
	}
	return res.RowsAffected, nil
}

var _ auth.Store = (*DB)(nil)
