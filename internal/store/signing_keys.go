package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/keyhold/keyhold/internal/tokens"
)

type signingKeyRecord struct {
	KID        string `gorm:"column:kid;primaryKey"`
	Generation int64
	PublicKey  string // base64 PKIX DER
	PrivateKey string // base64 of the sealed private key
	CreatedAt  time.Time
	ActiveAt   *time.Time // nil: since CreatedAt (keys made before migration 0017)
	RetiredAt  *time.Time
}

func (signingKeyRecord) TableName() string { return "signing_keys" }

// SigningKeys returns every stored token signing key.
func (db *DB) SigningKeys(ctx context.Context) ([]tokens.SigningKey, error) {
	var recs []signingKeyRecord
	if err := db.ctx(ctx).Order("generation DESC").Find(&recs).Error; err != nil {
		return nil, fmt.Errorf("store: signing keys: %w", err)
	}
	out := make([]tokens.SigningKey, len(recs))
	for i, r := range recs {
		pub, err := base64.StdEncoding.DecodeString(r.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("store: signing key %s: %w", r.KID, err)
		}
		sealed, err := base64.StdEncoding.DecodeString(r.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("store: signing key %s: %w", r.KID, err)
		}
		active := r.CreatedAt
		if r.ActiveAt != nil {
			active = *r.ActiveAt
		}
		out[i] = tokens.SigningKey{KID: r.KID, Generation: r.Generation, PublicKey: pub, Sealed: sealed, CreatedAt: r.CreatedAt.UTC(),
			ActiveAt: active.UTC(), RetiredAt: utcPtr(r.RetiredAt)}
	}
	return out, nil
}

// InsertSigningKey stores k unless its generation is taken, retiring the
// older keys at k.ActiveAt in the same transaction; it reports whether k
// was stored.
func (db *DB) InsertSigningKey(ctx context.Context, k tokens.SigningKey) (bool, error) {
	active := k.ActiveAt.UTC()
	if k.ActiveAt.IsZero() {
		active = k.CreatedAt.UTC()
	}
	rec := signingKeyRecord{KID: k.KID, Generation: k.Generation, PublicKey: base64.StdEncoding.EncodeToString(k.PublicKey),
		PrivateKey: base64.StdEncoding.EncodeToString(k.Sealed), CreatedAt: k.CreatedAt.UTC(), ActiveAt: &active}
	stored := false
	err := db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&rec)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return nil
		}
		stored = true
		return tx.Model(&signingKeyRecord{}).Where("generation < ? AND retired_at IS NULL", k.Generation).
			UpdateColumn("retired_at", active).Error
	})
	if err != nil {
		return false, fmt.Errorf("store: insert signing key: %w", err)
	}
	return stored, nil
}

// DeleteSigningKeys deletes the signing keys retired before t.
func (db *DB) DeleteSigningKeys(ctx context.Context, retiredBefore time.Time) (int64, error) {
	res := db.ctx(ctx).Where("retired_at IS NOT NULL AND retired_at < ?", retiredBefore.UTC()).Delete(&signingKeyRecord{})
	if res.Error != nil {
		return 0, fmt.Errorf("store: delete signing keys: %w", res.Error)
	}
	return res.RowsAffected, nil
}

var _ tokens.Store = (*DB)(nil)
