package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/team"
)

// The store side of the management API's accounts: provisioning an
// account with its owner or owner invitation, editing it, and its list.

// nullable is s, or NULL for "".
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ProvisionAccount implements team.ProvisionStore. Whether the owner's
// user exists is decided inside the transaction, so the account gets
// either that owner or an invitation, never neither.
func (db *DB) ProvisionAccount(ctx context.Context, p *team.Provision) (string, error) {
	var owner string
	err := db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		a := p.Account
		rec := accountRecord{ID: a.ID, Name: a.Name, ExternalID: nullable(a.ExternalID), PlanID: a.PlanID,
			CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC()}
		if err := tx.Create(&rec).Error; err != nil {
			if isUnique(err) {
				// The id is a fresh ULID: the external id is what clashed.
				return team.ErrExternalIDTaken
			}
			return fmt.Errorf("store: provision account: %w", err)
		}
		for _, e := range p.Entries {
			if err := db.writeAudit(tx, e); err != nil {
				return err
			}
		}
		if p.OwnerEmail == "" {
			return nil
		}
		var ids []string
		if err := tx.Raw("SELECT id FROM users WHERE email = ?", p.OwnerEmail).Scan(&ids).Error; err != nil {
			return fmt.Errorf("store: provision account: owner: %w", err)
		}
		if len(ids) > 0 {
			owner = ids[0]
			m := membershipRecord{AccountID: a.ID, UserID: owner, Role: string(team.Owner), CreatedAt: a.CreatedAt.UTC()}
			if err := tx.Create(&m).Error; err != nil {
				return fmt.Errorf("store: provision account: owner: %w", err)
			}
			e := p.OwnerEntry
			e.TargetID = owner
			return db.writeAudit(tx, e)
		}
		inv := p.Invitation
		ir := invitationRecord{ID: inv.ID, AccountID: a.ID, Email: inv.Email, Role: string(inv.Role), TokenHash: inv.TokenHash,
			InvitedBy: inv.InvitedBy, CreatedAt: inv.CreatedAt.UTC(), ExpiresAt: inv.ExpiresAt.UTC()}
		if err := tx.Create(&ir).Error; err != nil {
			return fmt.Errorf("store: provision account: invitation: %w", err)
		}
		if p.Mail != nil {
			if err := db.queueInvitation(ctx, tx, p.Mail); err != nil {
				return err
			}
		}
		return db.writeAudit(tx, p.InvitationEntry)
	})
	if err != nil {
		return "", err
	}
	return owner, nil
}

// UpdateAccount implements team.ProvisionStore.
func (db *DB) UpdateAccount(ctx context.Context, accountID string, c team.AccountChanges, entries []audit.Entry) error {
	set := map[string]any{"updated_at": time.Now().UTC()}
	if c.Name != nil {
		set["name"] = *c.Name
	}
	if c.ExternalID != nil {
		set["external_id"] = nullable(*c.ExternalID)
	}
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&accountRecord{}).Where("id = ?", accountID).Updates(set)
		if res.Error != nil {
			if isUnique(res.Error) {
				return team.ErrExternalIDTaken
			}
			return fmt.Errorf("store: update account: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return team.ErrNotFound
		}
		for _, e := range entries {
			if err := db.writeAudit(tx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// AccountPage implements team.ProvisionStore. Ids are ULIDs made when the
// account is, so the id orders accounts by time and is the cursor; an
// account made during a walk sorts before every page already read.
func (db *DB) AccountPage(ctx context.Context, f team.AccountFilter) ([]team.Account, error) {
	g := db.ctx(ctx).Model(&accountRecord{})
	if f.ExternalID != "" {
		g = g.Where("external_id = ?", f.ExternalID)
	}
	if f.PlanID != "" {
		g = g.Where("plan_id = ?", f.PlanID)
	}
	if f.Email != "" {
		g = g.Where("id IN (SELECT m.account_id FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = ?)", f.Email)
	}
	if f.StartingAfter != "" {
		g = g.Where("id < ?", f.StartingAfter)
	}
	var recs []accountRecord
	if err := g.Order("id DESC").Limit(f.Limit).Find(&recs).Error; err != nil {
		return nil, fmt.Errorf("store: account page: %w", err)
	}
	out := make([]team.Account, len(recs))
	for i := range recs {
		out[i] = *recs[i].domain()
	}
	return out, nil
}
