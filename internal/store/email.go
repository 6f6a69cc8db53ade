package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/notices"
	"github.com/keyhold/keyhold/internal/team"
)

// Outbox queues mail inside a database transaction (internal/mail, on the
// job queue of internal/jobs): the mail exists exactly when the change that
// calls for it commits.
type Outbox interface {
	QueueTx(ctx context.Context, tx *sql.Tx, m auth.Mail) error
	QueueInvitationTx(ctx context.Context, tx *sql.Tx, m team.InvitationMail) error
	QueueNoticeTx(ctx context.Context, tx *sql.Tx, m notices.Mail) error
}

// SetOutbox sets where the store queues the mail of the email journeys.
// Without one, a change that comes with mail fails: mail is never dropped
// without a word.
func (db *DB) SetOutbox(o Outbox) { db.outbox = o }

// SQL returns the connection pool, for the job queue (internal/jobs), which
// keeps its tables in the same database and joins its transactions.
func (db *DB) SQL() *sql.DB { return db.sql }

// URL returns the database URL the store was opened with.
func (db *DB) URL() string { return db.url }

type emailTokenRecord struct {
	TokenHash string `gorm:"primaryKey"`
	UserID    string
	Purpose   string
	Email     string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

func (emailTokenRecord) TableName() string { return "email_tokens" }

// queue queues m in the gorm transaction tx; nothing when m is nil.
func (db *DB) queue(ctx context.Context, tx *gorm.DB, m *auth.Mail) error {
	if m == nil {
		return nil
	}
	stx, err := db.outboxTx(tx)
	if err != nil {
		return err
	}
	if err := db.outbox.QueueTx(ctx, stx, *m); err != nil {
		return fmt.Errorf("store: queue mail: %w", err)
	}
	return nil
}

// outboxTx is the database/sql transaction under the gorm transaction tx,
// in which the outbox queues mail; an error when there is no outbox.
func (db *DB) outboxTx(tx *gorm.DB) (*sql.Tx, error) {
	if db.outbox == nil {
		return nil, errors.New("store: mail to queue, but no outbox")
	}
	return sqlTx(tx)
}

// SaveEmailToken implements auth.EmailStore.
func (db *DB) SaveEmailToken(ctx context.Context, t *auth.EmailToken, m *auth.Mail) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		// Only the newest link of a purpose works: older unused ones end.
		if err := tx.Where("user_id = ? AND purpose = ? AND used_at IS NULL", t.UserID, t.Purpose).
			Delete(&emailTokenRecord{}).Error; err != nil {
			return fmt.Errorf("store: end older tokens: %w", err)
		}
		rec := emailTokenRecord{TokenHash: t.Hash, UserID: t.UserID, Purpose: t.Purpose, Email: t.Email,
			CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt}
		if err := tx.Create(&rec).Error; err != nil {
			return fmt.Errorf("store: save token: %w", err)
		}
		return db.queue(ctx, tx, m)
	})
}

// EmailToken implements auth.EmailStore.
func (db *DB) EmailToken(ctx context.Context, hash string) (*auth.EmailToken, error) {
	var r emailTokenRecord
	err := db.ctx(ctx).Where("token_hash = ?", hash).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: token: %w", err)
	}
	return &auth.EmailToken{Hash: r.TokenHash, UserID: r.UserID, Purpose: r.Purpose, Email: r.Email,
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), UsedAt: utcPtr(r.UsedAt)}, nil
}

// useToken marks a token of purpose used in tx and returns it: one
// UPDATE, so of two requests with the same link only one gets it.
// auth.ErrTokenUsed when it was used already or has expired by now.
func useToken(tx *gorm.DB, hash, purpose string, now time.Time) (*emailTokenRecord, error) {
	res := tx.Model(&emailTokenRecord{}).
		Where("token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?", hash, purpose, now).
		Update("used_at", now)
	if res.Error != nil {
		return nil, fmt.Errorf("store: use token: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, auth.ErrTokenUsed
	}
	var r emailTokenRecord
	if err := tx.Where("token_hash = ?", hash).Take(&r).Error; err != nil {
		return nil, fmt.Errorf("store: use token: %w", err)
	}
	return &r, nil
}

// ResetPassword implements auth.EmailStore.
func (db *DB) ResetPassword(ctx context.Context, hash string, now time.Time, passwordHash string) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		t, err := useToken(tx, hash, auth.PurposePasswordReset, now)
		if err != nil {
			return err
		}
		if err := tx.Model(&userRecord{}).Where("id = ?", t.UserID).
			Updates(map[string]any{"password_hash": passwordHash, "updated_at": now}).Error; err != nil {
			return fmt.Errorf("store: reset password: %w", err)
		}
		// The link reached the address: it is verified.
		if err := tx.Model(&userRecord{}).Where("id = ? AND email = ? AND email_verified_at IS NULL", t.UserID, t.Email).
			Update("email_verified_at", now).Error; err != nil {
			return fmt.Errorf("store: reset password: %w", err)
		}
		if err := tx.Where("user_id = ?", t.UserID).Delete(&sessionRecord{}).Error; err != nil {
			return fmt.Errorf("store: end sessions: %w", err)
		}
		// Every other reset link of the account ends with this one.
		if err := tx.Where("user_id = ? AND purpose = ? AND used_at IS NULL", t.UserID, auth.PurposePasswordReset).
			Delete(&emailTokenRecord{}).Error; err != nil {
			return fmt.Errorf("store: end reset tokens: %w", err)
		}
		return nil
	})
}

// VerifyEmail implements auth.EmailStore.
func (db *DB) VerifyEmail(ctx context.Context, hash string, now time.Time) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		t, err := useToken(tx, hash, auth.PurposeVerifyEmail, now)
		if err != nil {
			return err
		}
		res := tx.Model(&userRecord{}).Where("id = ? AND email = ?", t.UserID, t.Email).
			Updates(map[string]any{"email_verified_at": now, "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("store: verify email: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return auth.ErrTokenUsed // the account moved to another address since
		}
		return nil
	})
}

// ChangeEmail implements auth.EmailStore.
func (db *DB) ChangeEmail(ctx context.Context, hash string, now time.Time, old string, notice *auth.Mail) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		t, err := useToken(tx, hash, auth.PurposeChangeEmail, now)
		if err != nil {
			return err
		}
		// The unique index on email is the check at confirm time: an
		// address another account took since the request fails here.
		res := tx.Model(&userRecord{}).Where("id = ? AND email = ?", t.UserID, old).
			Updates(map[string]any{"email": t.Email, "email_verified_at": now, "updated_at": now})
		if res.Error != nil {
			if isUnique(res.Error) {
				return auth.ErrEmailTaken
			}
			return fmt.Errorf("store: change email: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return auth.ErrTokenUsed
		}
		// Links already mailed to the old address (a reset, a
		// verification, another change) end here: whoever still reads
		// that mailbox must not take the account back through them.
		if err := tx.Where("user_id = ? AND used_at IS NULL", t.UserID).Delete(&emailTokenRecord{}).Error; err != nil {
			return fmt.Errorf("store: end the old address's links: %w", err)
		}
		return db.queue(ctx, tx, notice)
	})
}

// DeleteExpiredEmailTokens removes tokens that expired before now.
func (db *DB) DeleteExpiredEmailTokens(ctx context.Context, now time.Time) (int64, error) {
	res := db.ctx(ctx).Where("expires_at < ?", now.UTC()).Delete(&emailTokenRecord{})
	if res.Error != nil {
		return 0, fmt.Errorf("store: delete expired tokens: %w", res.Error)
	}
	return res.RowsAffected, nil
}

var _ auth.EmailStore = (*DB)(nil)
