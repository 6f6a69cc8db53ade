package store

import (
	"context"
	"fmt"

	"github.com/keyhold/keyhold/internal/keys"
)

// KeyPage implements api.KeyStore. Key ids are ULIDs made when the key
// is, so the id orders keys by time and is the cursor.
func (db *DB) KeyPage(ctx context.Context, f keys.PageFilter) ([]keys.PagedKey, error) {
	g := db.ctx(ctx).Table("api_keys AS k").
		Select("k.*, COALESCE(a.plan_id, '') AS plan_id").
		Joins("LEFT JOIN accounts a ON a.id = k.account_id")
	if f.ID != "" {
		g = g.Where("k.id = ?", f.ID)
	}
	if f.AccountID != "" {
		g = g.Where("k.account_id = ?", f.AccountID)
	}
	if f.StartingAfter != "" {
		g = g.Where("k.id < ?", f.StartingAfter)
	}
	g = whereStatus(g, f.Status, f.Now)
	if f.Limit > 0 {
		g = g.Limit(f.Limit)
	}
	var rows []struct {
		Key    keyRecord `gorm:"embedded"`
		PlanID string
	}
	if err := g.Order("k.id DESC").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: key page: %w", err)
	}
	out := make([]keys.PagedKey, len(rows))
	ids := make([]string, len(rows))
	byID := make(map[string]*keys.Key, len(rows))
	for i := range rows {
		k, err := rows[i].Key.domain()
		if err != nil {
			return nil, err
		}
		out[i] = keys.PagedKey{Key: k, PlanID: rows[i].PlanID}
		ids[i], byID[k.ID] = k.ID, k
	}
	if len(ids) == 0 {
		return out, nil
	}
	// The latest end of a secret rotated away, as FindKeys by ID fills it;
	// the caller decides whether it still runs (keys.Key.EndGrace).
	var old []secretRecord
	if err := db.ctx(ctx).Where("key_id IN ? AND expires_at IS NOT NULL", ids).Find(&old).Error; err != nil {
		return nil, fmt.Errorf("store: key page old secrets: %w", err)
	}
	for _, s := range old {
		k := byID[s.KeyID]
		if k.OldSecretUntil == nil || s.ExpiresAt.After(*k.OldSecretUntil) {
			k.OldSecretUntil = utcPtr(s.ExpiresAt)
		}
	}
	return out, nil
}
