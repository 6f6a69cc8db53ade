package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/idempotency"
)

type idempotencyRecord struct {
	RootKeyID   string `gorm:"primaryKey"`
	IdemKey     string `gorm:"primaryKey"`
	RequestHash string
	Status      int
	Headers     string
	Body        string
	CreatedAt   time.Time
}

func (idempotencyRecord) TableName() string { return "api_idempotency" }

// ClaimIdempotency implements idempotency.Store. The claim is an
// INSERT that does nothing on a conflict, so of two instances that race,
// one inserts and the other reads what it inserted.
func (db *DB) ClaimIdempotency(ctx context.Context, rootKeyID, key, hash string, now, since, running time.Time) (*idempotency.Record, error) {
	var kept *idempotency.Record
	err := db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		// A record older than since is over, and a claim still running
		// since before running was lost: the key may be used again.
		if err := tx.Where("root_key_id = ? AND idem_key = ? AND (created_at < ? OR (status = 0 AND created_at < ?))",
			rootKeyID, key, since.UTC(), running.UTC()).
			Delete(&idempotencyRecord{}).Error; err != nil {
			return err
		}
		rec := idempotencyRecord{RootKeyID: rootKeyID, IdemKey: key, RequestHash: hash, Headers: "{}", CreatedAt: now.UTC()}
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&rec)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 1 {
			return nil
		}
		var got idempotencyRecord
		if err := tx.Where("root_key_id = ? AND idem_key = ?", rootKeyID, key).Take(&got).Error; err != nil {
			return err
		}
		kept = &idempotency.Record{RequestHash: got.RequestHash, Status: got.Status, Body: []byte(got.Body), CreatedAt: got.CreatedAt.UTC()}
		if err := json.Unmarshal([]byte(got.Headers), &kept.Headers); err != nil {
			return fmt.Errorf("headers: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim idempotency key: %w", err)
	}
	if kept != nil {
		return kept, idempotency.ErrTaken
	}
	return nil, nil
}

// FinishIdempotency implements idempotency.Store.
func (db *DB) FinishIdempotency(ctx context.Context, rootKeyID, key string, status int, headers map[string]string, body []byte) error {
	h, err := json.Marshal(headers)
	if err != nil {
		return fmt.Errorf("store: finish idempotency key: %w", err)
	}
	err = db.ctx(ctx).Model(&idempotencyRecord{}).Where("root_key_id = ? AND idem_key = ?", rootKeyID, key).
		Updates(map[string]any{"status": status, "headers": string(h), "body": string(body)}).Error
	if err != nil {
		return fmt.Errorf("store: finish idempotency key: %w", err)
	}
	return nil
}

// ReleaseIdempotency implements idempotency.Store: only a claim still
// running is forgotten.
func (db *DB) ReleaseIdempotency(ctx context.Context, rootKeyID, key string) error {
	err := db.ctx(ctx).Where("root_key_id = ? AND idem_key = ? AND status = 0", rootKeyID, key).Delete(&idempotencyRecord{}).Error
	if err != nil {
		return fmt.Errorf("store: release idempotency key: %w", err)
	}
	return nil
}

// SweepIdempotency implements idempotency.Store.
func (db *DB) SweepIdempotency(ctx context.Context, before time.Time) error {
	if err := db.ctx(ctx).Where("created_at < ?", before.UTC()).Delete(&idempotencyRecord{}).Error; err != nil {
		return fmt.Errorf("store: sweep idempotency keys: %w", err)
	}
	return nil
}

// AuditPage implements api.AuditStore (declared in internal/api). Ids are ULIDs made when the entry
// is, so the id orders entries by time and is the cursor.
func (db *DB) AuditPage(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	g := db.ctx(ctx).Model(&auditRecord{})
	if f.AccountID != "" {
		g = g.Where("account_id = ?", f.AccountID)
	}
	if strings.HasSuffix(f.Action, ".") {
		g = g.Where("action LIKE ? ESCAPE '!'", strings.TrimPrefix(likeEscape(f.Action), "%"))
	} else if f.Action != "" {
		g = g.Where("action = ?", f.Action)
	}
	if f.StartingAfter != "" {
		g = g.Where("id < ?", f.StartingAfter)
	}
	var recs []auditRecord
	if err := g.Order("id DESC").Limit(f.Limit).Find(&recs).Error; err != nil {
		return nil, fmt.Errorf("store: audit page: %w", err)
	}
	out := make([]audit.Entry, len(recs))
	for i := range recs {
		out[i] = recs[i].domain()
	}
	return out, nil
}
