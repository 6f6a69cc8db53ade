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

// The store side of package team: accounts as teams, memberships and
// invitations (migration 0013).

type membershipRecord struct {
	AccountID string `gorm:"primaryKey"`
	UserID    string `gorm:"primaryKey"`
	Role      string
	CreatedAt time.Time
}

func (membershipRecord) TableName() string { return "memberships" }

type invitationRecord struct {
	ID         string `gorm:"primaryKey"`
	AccountID  string
	Email      string
	Role       string
	TokenHash  string
	InvitedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	AcceptedAt *time.Time
	AcceptedBy *string
	RevokedAt  *time.Time
	// Read only: what lookups join in.
	AccountName string `gorm:"->"`
	InviterMail string `gorm:"->"`
}

func (invitationRecord) TableName() string { return "invitations" }

func (r *invitationRecord) domain() team.Invitation {
	inv := team.Invitation{ID: r.ID, AccountID: r.AccountID, AccountName: r.AccountName, Email: r.Email,
		Role: team.Role(r.Role), TokenHash: r.TokenHash, InvitedBy: r.InvitedBy, InviterMail: r.InviterMail,
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), AcceptedAt: utcPtr(r.AcceptedAt), RevokedAt: utcPtr(r.RevokedAt)}
	if r.AcceptedBy != nil {
		inv.AcceptedBy = *r.AcceptedBy
	}
	return inv
}

// firstOwnerEmail selects the email of the oldest owner of the account a:
// whom the console shows for an account, and Stripe's customer email.
const firstOwnerEmail = "(SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id " +
	"WHERE m.account_id = a.id AND m.role = 'owner' ORDER BY m.created_at, u.id LIMIT 1)"

// queueInvitation queues m in the gorm transaction tx.
func (db *DB) queueInvitation(ctx context.Context, tx *gorm.DB, m *team.InvitationMail) error {
	stx, err := db.outboxTx(tx)
	if err != nil {
		return err
	}
	if err := db.outbox.QueueInvitationTx(ctx, stx, *m); err != nil {
		return fmt.Errorf("store: queue invitation: %w", err)
	}
	return nil
}

// TeamAccount implements team.Store.
func (db *DB) TeamAccount(ctx context.Context, id string) (*team.Account, error) {
	a, err := accountIn(db.ctx(ctx), id)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, team.ErrNotFound
	}
	return a, err
}

// membershipSelect reads memberships with the account's name, plan and
// suspension.
const membershipSelect = `SELECT m.account_id, a.name AS account_name, a.plan_id, a.suspended, m.user_id, m.role, m.created_at
FROM memberships m JOIN accounts a ON a.id = m.account_id `

type membershipRow struct {
	AccountID   string
	AccountName string
	PlanID      string
	Suspended   bool
	UserID      string
	Role        string
	CreatedAt   time.Time
}

func (r *membershipRow) domain() team.Membership {
	return team.Membership{AccountID: r.AccountID, AccountName: r.AccountName, PlanID: r.PlanID, Suspended: r.Suspended,
		UserID: r.UserID, Role: team.Role(r.Role), CreatedAt: r.CreatedAt.UTC()}
}

// Membership implements team.Store.
func (db *DB) Membership(ctx context.Context, accountID, userID string) (*team.Membership, error) {
	var rows []membershipRow
	if err := db.ctx(ctx).Raw(membershipSelect+"WHERE m.account_id = ? AND m.user_id = ?", accountID, userID).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: membership: %w", err)
	}
	if len(rows) == 0 {
		return nil, team.ErrNotFound
	}
	m := rows[0].domain()
	return &m, nil
}

// Memberships implements team.Store.
func (db *DB) Memberships(ctx context.Context, userID string) ([]team.Membership, error) {
	var rows []membershipRow
	if err := db.ctx(ctx).Raw(membershipSelect+"WHERE m.user_id = ? ORDER BY LOWER(a.name), a.id", userID).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: memberships: %w", err)
	}
	out := make([]team.Membership, len(rows))
	for i := range rows {
		out[i] = rows[i].domain()
	}
	return out, nil
}

// pending is the condition of an invitation that can still be accepted at
// a time given as the next argument.
const pending = "accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?"

// Members implements team.Store.
func (db *DB) Members(ctx context.Context, accountID string, now time.Time) ([]team.Member, []team.Invitation, error) {
	members, err := db.MemberList(ctx, accountID)
	if err != nil {
		return nil, nil, err
	}
	var rows []invitationRecord
	if err := db.ctx(ctx).Raw(`SELECT i.*, COALESCE(u.email, '') AS inviter_mail FROM invitations i
LEFT JOIN users u ON u.id = i.invited_by
WHERE i.account_id = ? AND i.`+pending+` ORDER BY i.created_at DESC, i.id DESC`, accountID, now.UTC()).Scan(&rows).Error; err != nil {
		return nil, nil, fmt.Errorf("store: invitations: %w", err)
	}
	invs := make([]team.Invitation, len(rows))
	for i := range rows {
		invs[i] = rows[i].domain()
	}
	return members, invs, nil
}

// MemberList implements team.Store: the account's members by email, in
// one statement.
func (db *DB) MemberList(ctx context.Context, accountID string) ([]team.Member, error) {
	var ms []struct {
		UserID    string
		Email     string
		Role      string
		CreatedAt time.Time
	}
	if err := db.ctx(ctx).Raw(`SELECT m.user_id, u.email, m.role, m.created_at FROM memberships m
JOIN users u ON u.id = m.user_id WHERE m.account_id = ? ORDER BY u.email`, accountID).Scan(&ms).Error; err != nil {
		return nil, fmt.Errorf("store: members: %w", err)
	}
	members := make([]team.Member, len(ms))
	for i, m := range ms {
		members[i] = team.Member{UserID: m.UserID, Email: m.Email, Role: team.Role(m.Role), CreatedAt: m.CreatedAt.UTC()}
	}
	return members, nil
}

// CreateTeamAccount implements team.Store.
func (db *DB) CreateTeamAccount(ctx context.Context, a *team.Account, ownerID string, maxOwned int, e audit.Entry) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		if db.Postgres() {
			// Two creations at once must not both pass the count below:
			// the owner's user row serialises them (SQLite runs one write
			// transaction at a time).
			if err := tx.Exec("SELECT id FROM users WHERE id = ? FOR UPDATE", ownerID).Error; err != nil {
				return fmt.Errorf("store: create account: lock owner: %w", err)
			}
		}
		var owned int64
		if err := tx.Model(&membershipRecord{}).Where("user_id = ? AND role = ?", ownerID, string(team.Owner)).Count(&owned).Error; err != nil {
			return fmt.Errorf("store: create account: count owned: %w", err)
		}
		if owned >= int64(maxOwned) {
			return team.ErrTooManyAccounts
		}
		if err := createAccount(tx, a, ownerID); err != nil {
			return err
		}
		return db.writeAudit(tx, e)
	})
}

// seats counts the account's members, and with invitations its pending
// invitations at now too.
func seats(tx *gorm.DB, accountID string, invitations bool, now time.Time) (int64, error) {
	var members, invs int64
	if err := tx.Model(&membershipRecord{}).Where("account_id = ?", accountID).Count(&members).Error; err != nil {
		return 0, fmt.Errorf("store: count members: %w", err)
	}
	if invitations {
		if err := tx.Model(&invitationRecord{}).Where("account_id = ? AND "+pending, accountID, now.UTC()).Count(&invs).Error; err != nil {
			return 0, fmt.Errorf("store: count invitations: %w", err)
		}
	}
	return members + invs, nil
}

// CreateInvitation implements team.Store. On PostgreSQL the account's row
// is locked first (as CreateKey does for max_keys), so two invitations at
// once cannot both take the last seat; SQLite runs one writer at a time.
func (db *DB) CreateInvitation(ctx context.Context, inv *team.Invitation, maxMembers int, m *team.InvitationMail, e audit.Entry) error {
	now := inv.CreatedAt.UTC()
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		if err := db.lockAccount(tx, inv.AccountID); err != nil {
			return fmt.Errorf("store: lock account: %w", err)
		}
		var member int64
		if err := tx.Raw(`SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.account_id = ? AND u.email = ?`, inv.AccountID, inv.Email).Scan(&member).Error; err != nil {
			return fmt.Errorf("store: invite: member: %w", err)
		}
		if member > 0 {
			return team.ErrAlreadyMember
		}
		// Only the newest invitation to an address works.
		if err := tx.Model(&invitationRecord{}).Where("account_id = ? AND email = ? AND accepted_at IS NULL AND revoked_at IS NULL",
			inv.AccountID, inv.Email).Update("revoked_at", now).Error; err != nil {
			return fmt.Errorf("store: invite: revoke older: %w", err)
		}
		if maxMembers > 0 {
			n, err := seats(tx, inv.AccountID, true, now)
			if err != nil {
				return err
			}
			if n >= int64(maxMembers) {
				return team.ErrSeatsFull
			}
		}
		var inviter []string
		if err := tx.Raw("SELECT email FROM users WHERE id = ?", inv.InvitedBy).Scan(&inviter).Error; err != nil {
			return fmt.Errorf("store: invite: inviter: %w", err)
		}
		if len(inviter) > 0 {
			inv.InviterMail = inviter[0]
			if m != nil {
				m.InviterMail = inviter[0]
			}
		}
		rec := invitationRecord{ID: inv.ID, AccountID: inv.AccountID, Email: inv.Email, Role: string(inv.Role), TokenHash: inv.TokenHash,
			InvitedBy: inv.InvitedBy, CreatedAt: now, ExpiresAt: inv.ExpiresAt.UTC()}
		if err := tx.Create(&rec).Error; err != nil {
			return fmt.Errorf("store: invite: %w", err)
		}
		if m != nil {
			if err := db.queueInvitation(ctx, tx, m); err != nil {
				return err
			}
		}
		return db.writeAudit(tx, e)
	})
}

// InvitationByHash implements team.Store.
func (db *DB) InvitationByHash(ctx context.Context, hash string) (*team.Invitation, error) {
	var rows []invitationRecord
	if err := db.ctx(ctx).Raw(`SELECT i.*, a.name AS account_name, COALESCE(u.email, '') AS inviter_mail FROM invitations i
JOIN accounts a ON a.id = i.account_id LEFT JOIN users u ON u.id = i.invited_by
WHERE i.token_hash = ?`, hash).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: invitation: %w", err)
	}
	if len(rows) == 0 {
		return nil, team.ErrNotFound
	}
	inv := rows[0].domain()
	return &inv, nil
}

// RevokeInvitation implements team.Store.
func (db *DB) RevokeInvitation(ctx context.Context, accountID, id string, now time.Time, e audit.Entry) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&invitationRecord{}).Where("id = ? AND account_id = ? AND "+pending, id, accountID, now.UTC()).
			Update("revoked_at", now.UTC())
		if res.Error != nil {
			return fmt.Errorf("store: revoke invitation: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return team.ErrNotFound
		}
		return db.writeAudit(tx, e)
	})
}

// AcceptInvitation implements team.Store. The account is locked before the
// invitation is used (the order CreateInvitation takes them in, so the two
// cannot deadlock on PostgreSQL); the UPDATE that uses it is what makes it
// single-use.
func (db *DB) AcceptInvitation(ctx context.Context, hash, userID string, now time.Time, maxMembers int, e audit.Entry) (*team.Invitation, error) {
	now = now.UTC()
	var out *team.Invitation
	err := db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		var rec invitationRecord
		err := tx.Where("token_hash = ?", hash).Take(&rec).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return team.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("store: accept: %w", err)
		}
		if err := db.lockAccount(tx, rec.AccountID); err != nil {
			return fmt.Errorf("store: lock account: %w", err)
		}
		res := tx.Model(&invitationRecord{}).Where("token_hash = ? AND "+pending, hash, now).
			Updates(map[string]any{"accepted_at": now, "accepted_by": userID})
		if res.Error != nil {
			return fmt.Errorf("store: accept: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return team.ErrNotFound
		}
		var member int64
		if err := tx.Model(&membershipRecord{}).Where("account_id = ? AND user_id = ?", rec.AccountID, userID).Count(&member).Error; err != nil {
			return fmt.Errorf("store: accept: member: %w", err)
		}
		if member > 0 {
			return team.ErrAlreadyMember
		}
		if maxMembers > 0 {
			n, err := seats(tx, rec.AccountID, false, now)
			if err != nil {
				return err
			}
			if n >= int64(maxMembers) {
				return team.ErrSeatsFull
			}
		}
		m := membershipRecord{AccountID: rec.AccountID, UserID: userID, Role: rec.Role, CreatedAt: now}
		if err := tx.Create(&m).Error; err != nil {
			if isUnique(err) {
				return team.ErrAlreadyMember
			}
			return fmt.Errorf("store: accept: membership: %w", err)
		}
		rec.AcceptedAt, rec.AcceptedBy = &now, &userID
		inv := rec.domain()
		out = &inv
		return db.writeAudit(tx, e)
	})
	return out, err
}

// ownerGuard holds back a change to an owner's membership unless another
// owner remains: the condition is part of the UPDATE or DELETE, so it is
// never decided on a stale count. On PostgreSQL the account's owner rows
// are locked first: under READ COMMITTED two owners demoting each other
// at once would each see the other and leave none; locked, the second
// waits and then sees the first's change. (SQLite runs one writer at a
// time.)
func (db *DB) ownerGuard(tx *gorm.DB, accountID, userID string, from, to team.Role) (string, []any, error) {
	if from != team.Owner || to == team.Owner {
		return "", nil, nil
	}
	if db.Postgres() {
		if err := tx.Exec("SELECT user_id FROM memberships WHERE account_id = ? AND role = ? FOR UPDATE", accountID, string(team.Owner)).Error; err != nil {
			return "", nil, fmt.Errorf("store: lock owners: %w", err)
		}
	}
	return " AND EXISTS (SELECT 1 FROM memberships o WHERE o.account_id = ? AND o.role = ? AND o.user_id <> ?)",
		[]any{accountID, string(team.Owner), userID}, nil
}

// changeMember runs stmt (an UPDATE or DELETE of one membership, ending in
// its WHERE on account, user and role) with the owner guard, and tells
// why nothing changed: team.ErrNotFound (no such member with role from)
// or team.ErrLastOwner.
func (db *DB) changeMember(tx *gorm.DB, stmt string, args []any, accountID, userID string, from, to team.Role) error {
	guard, gargs, err := db.ownerGuard(tx, accountID, userID, from, to)
	if err != nil {
		return err
	}
	res := tx.Exec(stmt+guard, append(args, gargs...)...)
	if res.Error != nil {
		return fmt.Errorf("store: change member: %w", res.Error)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	var n int64
	if err := tx.Model(&membershipRecord{}).Where("account_id = ? AND user_id = ? AND role = ?", accountID, userID, string(from)).Count(&n).Error; err != nil {
		return fmt.Errorf("store: change member: %w", err)
	}
	if n == 0 {
		return team.ErrNotFound
	}
	return team.ErrLastOwner
}

// SetRole implements team.Store.
func (db *DB) SetRole(ctx context.Context, accountID, userID string, from, to team.Role, e audit.Entry) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		if err := db.changeMember(tx, "UPDATE memberships SET role = ? WHERE account_id = ? AND user_id = ? AND role = ?",
			[]any{string(to), accountID, userID, string(from)}, accountID, userID, from, to); err != nil {
			return err
		}
		return db.writeAudit(tx, e)
	})
}

// RemoveMember implements team.Store.
func (db *DB) RemoveMember(ctx context.Context, accountID, userID string, from team.Role, e audit.Entry) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		if err := db.changeMember(tx, "DELETE FROM memberships WHERE account_id = ? AND user_id = ? AND role = ?",
			[]any{accountID, userID, string(from)}, accountID, userID, from, ""); err != nil {
			return err
		}
		return db.writeAudit(tx, e)
	})
}

// The store implements team.Store.
var _ team.Store = (*DB)(nil)
