package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/overview"
)

type auditRecord struct {
	ID         string `gorm:"primaryKey"`
	AccountID  string
	ActorID    string
	RootKeyID  string
	Action     string
	TargetType string
	TargetID   string
	IP         string `gorm:"column:ip"`
	Detail     string
	CreatedAt  time.Time
}

func (auditRecord) TableName() string { return "audit_log" }

// writeAudit appends an entry inside the caller's transaction, and the
// event it causes when its action is one (eventOfAction): every audited
// change that webhooks tell of is written with its event, so neither
// exists without the other.
func (db *DB) writeAudit(tx *gorm.DB, e audit.Entry) error {
	if e.ID == "" {
		e.ID = keyhold.NewID()
	}
	rec := auditRecord{ID: e.ID, AccountID: e.AccountID, ActorID: e.ActorID, RootKeyID: e.RootKeyID, Action: e.Action, TargetType: e.TargetType,
		TargetID: e.TargetID, IP: e.IP, Detail: e.Detail, CreatedAt: e.CreatedAt.UTC()}
	if err := tx.Create(&rec).Error; err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return db.auditEvent(tx, e)
}

// KeyAudit returns the newest audit entries about one of the account's
// keys, with each actor's email and whether they are a member of the
// account, in one statement.
func (db *DB) KeyAudit(ctx context.Context, accountID, keyID string, limit int) ([]overview.KeyEvent, error) {
	var rows []struct {
		Rec        auditRecord `gorm:"embedded"`
		ActorEmail string
		ByMember   bool
	}
	err := db.ctx(ctx).Table("audit_log AS l").
		Select("l.*, COALESCE(u.email, '') AS actor_email, "+
			"EXISTS (SELECT 1 FROM memberships m WHERE m.account_id = l.account_id AND m.user_id = l.actor_id) AS by_member").
		Joins("LEFT JOIN users u ON u.id = l.actor_id").
		Where("l.account_id = ? AND l.target_type = ? AND l.target_id = ?", accountID, "key", keyID).
		Order("l.created_at DESC, l.id DESC").Limit(limit).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: key audit: %w", err)
	}
	out := make([]overview.KeyEvent, len(rows))
	for i, r := range rows {
		out[i] = overview.KeyEvent{Entry: r.Rec.domain(), ActorEmail: r.ActorEmail, ByMember: r.ByMember}
	}
	return out, nil
}

func (r *auditRecord) domain() audit.Entry {
	return audit.Entry{ID: r.ID, AccountID: r.AccountID, ActorID: r.ActorID, RootKeyID: r.RootKeyID, Action: r.Action, TargetType: r.TargetType,
		TargetID: r.TargetID, IP: r.IP, Detail: r.Detail, CreatedAt: r.CreatedAt.UTC()}
}

// AppendAudit adds an entry to the audit log on its own. Changes that
// have an entry write it in their own transaction instead. An entry that
// causes an event (a sign-up's account.created) is written in a
// transaction with it.
func (db *DB) AppendAudit(ctx context.Context, e audit.Entry) error {
	if _, ok := eventOfAction[e.Action]; !ok {
		return db.writeAudit(db.ctx(ctx), e)
	}
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error { return db.writeAudit(tx, e) })
}

// planChangedEntry is the audit entry of a plan change that a Stripe event
// (or a reconcile, whose event ids start with "reconcile:") caused.
func planChangedEntry(s *billing.Subscription, from, to, event string) audit.Entry {
	via := "Stripe event " + event
	if strings.HasPrefix(event, "reconcile:") {
		via = "keyhold stripe reconcile"
	}
	return audit.Entry{ID: keyhold.NewID(), AccountID: s.AccountID, Action: audit.PlanChanged, TargetType: audit.TargetAccount,
		TargetID: s.AccountID, Detail: fmt.Sprintf("%s → %s (%s; subscription %s is %s)", from, to, via, s.ID, s.Status),
		CreatedAt: time.Now().UTC()}
}
