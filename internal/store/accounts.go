package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/team"
)

// userRecord is a row of users: a person who signs in.
type userRecord struct {
	ID           string `gorm:"primaryKey"`
	Email        string
	PasswordHash string
	IsAdmin      bool
	// EmailVerifiedAt is NULL until the address is verified.
	EmailVerifiedAt *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

func (userRecord) TableName() string { return "users" }

func (r *userRecord) domain() *auth.User {
	return &auth.User{ID: r.ID, Email: r.Email, PasswordHash: r.PasswordHash, IsAdmin: r.IsAdmin,
		EmailVerifiedAt: utcPtr(r.EmailVerifiedAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// accountRecord is a row of accounts: a team, owning keys, plan and
// billing.
type accountRecord struct {
	ID         string `gorm:"primaryKey"`
	Name       string
	ExternalID *string // NULL: none (NULLs are distinct in its unique index)
	Suspended  bool
	PlanID     string `gorm:"default:free"` // empty on insert: the column default
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

func (accountRecord) TableName() string { return "accounts" }

func (r *accountRecord) domain() *team.Account {
	a := &team.Account{ID: r.ID, Name: r.Name, PlanID: r.PlanID, Suspended: r.Suspended, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if r.ExternalID != nil {
		a.ExternalID = *r.ExternalID
	}
	return a
}

type sessionRecord struct {
	ID        string `gorm:"primaryKey"`
	UserID    string
	AccountID *string // NULL: none picked (or it went away)
	CreatedAt time.Time
	ExpiresAt time.Time
	IP        string `gorm:"column:ip"`
	UserAgent string
}

func (sessionRecord) TableName() string { return "sessions" }

// CreateUser inserts a user and, when personal is not nil, an account
// they own, and, when entry is not nil, that audit entry (with the event
// it causes), in one transaction; auth.ErrEmailTaken on a duplicate email.
func (db *DB) CreateUser(ctx context.Context, u *auth.User, personal *team.Account, entry *audit.Entry) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		rec := userRecord{ID: u.ID, Email: u.Email, PasswordHash: u.PasswordHash, IsAdmin: u.IsAdmin, EmailVerifiedAt: u.EmailVerifiedAt,
			CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
		if err := tx.Create(&rec).Error; err != nil {
			if isUnique(err) {
				return auth.ErrEmailTaken
			}
			return fmt.Errorf("store: create user: %w", err)
		}
		if personal != nil {
			if err := createAccount(tx, personal, u.ID); err != nil {
				return err
			}
		}
		if entry == nil {
			return nil
		}
		// In the same transaction, after the account it tells of: a
		// sign-up either leaves the user, the account, the entry and its
		// account.created event, or none of them.
		return db.writeAudit(tx, *entry)
	})
}

// createAccount inserts an account and its owner's membership.
func createAccount(tx *gorm.DB, a *team.Account, ownerID string) error {
	acc := accountRecord{ID: a.ID, Name: a.Name, PlanID: a.PlanID, Suspended: a.Suspended, CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC()}
	if err := tx.Create(&acc).Error; err != nil {
		return fmt.Errorf("store: create account: %w", err)
	}
	a.PlanID = acc.PlanID
	m := membershipRecord{AccountID: a.ID, UserID: ownerID, Role: string(team.Owner), CreatedAt: a.CreatedAt.UTC()}
	if err := tx.Create(&m).Error; err != nil {
		return fmt.Errorf("store: create account: owner: %w", err)
	}
	return nil
}

// UserByID returns a user; auth.ErrNotFound when there is none.
func (db *DB) UserByID(ctx context.Context, id string) (*auth.User, error) {
	return db.userWhere(ctx, "id = ?", id)
}

// UserByEmail returns the user with a lower-cased email.
func (db *DB) UserByEmail(ctx context.Context, email string) (*auth.User, error) {
	return db.userWhere(ctx, "email = ?", email)
}

func (db *DB) userWhere(ctx context.Context, query string, arg any) (*auth.User, error) {
	var rec userRecord
	err := db.ctx(ctx).Where(query, arg).Take(&rec).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: user: %w", err)
	}
	return rec.domain(), nil
}

// AccountByID returns an account; auth.ErrNotFound when there is none.
func (db *DB) AccountByID(ctx context.Context, id string) (*team.Account, error) {
	return accountIn(db.ctx(ctx), id)
}

// SetAdmin flags or unflags a user as operator.
func (db *DB) SetAdmin(ctx context.Context, userID string, admin bool) error {
	res := db.ctx(ctx).Model(&userRecord{}).Where("id = ?", userID).
		Updates(map[string]any{"is_admin": admin, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return fmt.Errorf("store: set admin: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return auth.ErrNotFound
	}
	return nil
}

// SetOperator sets or clears a user's operator flag and appends e, in one
// transaction. With keepOne, clearing the flag is refused with
// auth.ErrLastOperator unless another operator exists; the check is part of
// the UPDATE, so the flag is never cleared on a stale count.
func (db *DB) SetOperator(ctx context.Context, userID string, operator, keepOne bool, e audit.Entry) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx.Model(&userRecord{}).Where("id = ?", userID)
		if keepOne && !operator {
			if db.Postgres() {
				// Under READ COMMITTED two operators demoting themselves
				// at once would each see the other in the EXISTS below
				// and leave none: lock every operator's row first, so the
				// second waits and then sees the first's demotion.
				// (SQLite runs one write transaction at a time.)
				if err := tx.Exec("SELECT id FROM users WHERE is_admin FOR UPDATE").Error; err != nil {
					return fmt.Errorf("store: set operator: lock operators: %w", err)
				}
			}
			q = q.Where("EXISTS (SELECT 1 FROM users o WHERE o.is_admin AND o.id <> ?)", userID)
		}
		res := q.Updates(map[string]any{"is_admin": operator, "updated_at": time.Now().UTC()})
		if res.Error != nil {
			return fmt.Errorf("store: set operator: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			var n int64
			if err := tx.Model(&userRecord{}).Where("id = ?", userID).Count(&n).Error; err != nil {
				return fmt.Errorf("store: set operator: %w", err)
			}
			if n == 0 {
				return auth.ErrNotFound
			}
			return auth.ErrLastOperator
		}
		return db.writeAudit(tx, e)
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
		return db.writeAudit(tx, e)
	})
}

// accountIn reads an account (inside a transaction, or not);
// auth.ErrNotFound when there is none.
func accountIn(tx *gorm.DB, id string) (*team.Account, error) {
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
// user, in one transaction.
func (db *DB) SetPassword(ctx context.Context, userID, hash string) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&userRecord{}).Where("id = ?", userID).
			Updates(map[string]any{"password_hash": hash, "updated_at": time.Now().UTC()})
		if res.Error != nil {
			return fmt.Errorf("store: set password: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return auth.ErrNotFound
		}
		if err := tx.Where("user_id = ?", userID).Delete(&sessionRecord{}).Error; err != nil {
			return fmt.Errorf("store: end sessions: %w", err)
		}
		return nil
	})
}

// CreateSession inserts a session.
func (db *DB) CreateSession(ctx context.Context, s *auth.Session) error {
	rec := sessionRecord{ID: s.ID, UserID: s.UserID, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, IP: s.IP, UserAgent: s.UserAgent}
	if s.AccountID != "" {
		rec.AccountID = &s.AccountID
	}
	if err := db.ctx(ctx).Create(&rec).Error; err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	return nil
}

// Visit returns a session, its user and the user's memberships in one
// query: one row per membership (or one row with no membership), ordered by
// account name in any case, as a person reads the switcher, and the same
// on SQLite (which sorts bytes) and PostgreSQL (which sorts by its
// collation). Every page asks for it, so it is one round trip.
func (db *DB) Visit(ctx context.Context, sessionID string) (*auth.Visit, error) {
	var rows []struct {
		SID        string
		SAccountID *string
		SCreatedAt time.Time
		SExpiresAt time.Time
		SIP        string
		SUserAgent string
		User       userRecord `gorm:"embedded;embeddedPrefix:u_"`
		MAccountID *string
		MRole      *string
		MCreatedAt *time.Time
		AName      *string
		APlanID    *string
		ASuspended *bool
	}
	err := db.ctx(ctx).Raw(`SELECT s.id AS s_id, s.account_id AS s_account_id, s.created_at AS s_created_at,
			s.expires_at AS s_expires_at, s.ip AS s_ip, s.user_agent AS s_user_agent,
			u.id AS u_id, u.email AS u_email, u.password_hash AS u_password_hash, u.is_admin AS u_is_admin,
			u.email_verified_at AS u_email_verified_at, u.created_at AS u_created_at, u.updated_at AS u_updated_at,
			m.account_id AS m_account_id, m.role AS m_role, m.created_at AS m_created_at,
			a.name AS a_name, a.plan_id AS a_plan_id, a.suspended AS a_suspended
		FROM sessions s
		JOIN users u ON u.id = s.user_id
		LEFT JOIN memberships m ON m.user_id = u.id
		LEFT JOIN accounts a ON a.id = m.account_id
		WHERE s.id = ?
		ORDER BY LOWER(a.name), a.name, a.id`, sessionID).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: session: %w", err)
	}
	if len(rows) == 0 {
		return nil, auth.ErrNotFound
	}
	r := rows[0]
	v := &auth.Visit{User: r.User.domain(), Session: &auth.Session{ID: r.SID, UserID: r.User.ID, CreatedAt: r.SCreatedAt.UTC(),
		ExpiresAt: r.SExpiresAt.UTC(), IP: r.SIP, UserAgent: r.SUserAgent}}
	if r.SAccountID != nil {
		v.Session.AccountID = *r.SAccountID
	}
	for _, r := range rows {
		if r.MAccountID == nil || r.AName == nil {
			continue
		}
		v.Memberships = append(v.Memberships, team.Membership{AccountID: *r.MAccountID, AccountName: *r.AName, PlanID: *r.APlanID,
			Suspended: *r.ASuspended, UserID: r.User.ID, Role: team.Role(*r.MRole), CreatedAt: r.MCreatedAt.UTC()})
	}
	return v, nil
}

// SetSessionAccount makes accountID the session's current account when
// the session's user is a member of it; auth.ErrNotFound otherwise. The
// membership check is part of the UPDATE.
func (db *DB) SetSessionAccount(ctx context.Context, sessionID, userID, accountID string) error {
	res := db.ctx(ctx).Exec(`UPDATE sessions SET account_id = ? WHERE id = ? AND user_id = ?
		AND EXISTS (SELECT 1 FROM memberships m WHERE m.account_id = ? AND m.user_id = ?)`,
		accountID, sessionID, userID, accountID, userID)
	if res.Error != nil {
		return fmt.Errorf("store: set session account: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return auth.ErrNotFound
	}
	return nil
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
