package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/rootkey"
)

type rootKeyRecord struct {
	ID          string `gorm:"primaryKey"`
	Name        string
	Display     string
	Hash        string
	Permissions string // JSON array
	CreatedBy   string
	CreatedAt   time.Time
	LastUsedAt  *time.Time
	RevokedAt   *time.Time
	// CreatedByEmail is read only, by RootKeys' join of the creator.
	CreatedByEmail string `gorm:"->;column:created_by_email"`
}

func (rootKeyRecord) TableName() string { return "root_keys" }

func (r *rootKeyRecord) domain() (*rootkey.RootKey, error) {
	k := &rootkey.RootKey{ID: r.ID, Name: r.Name, Display: r.Display, CreatedBy: r.CreatedBy, CreatedByEmail: r.CreatedByEmail,
		CreatedAt: r.CreatedAt.UTC(), LastUsedAt: utcPtr(r.LastUsedAt), RevokedAt: utcPtr(r.RevokedAt)}
	if err := json.Unmarshal([]byte(r.Permissions), &k.Permissions); err != nil {
		return nil, fmt.Errorf("store: root key %s: permissions: %w", r.ID, err)
	}
	return k, nil
}

// CreateRootKey stores k with the SHA-256 of its secret and appends e, in
// one transaction.
func (db *DB) CreateRootKey(ctx context.Context, k *rootkey.RootKey, hash [32]byte, e audit.Entry) error {
	perms, err := json.Marshal(k.Permissions)
	if err != nil {
		return fmt.Errorf("store: create root key: %w", err)
	}
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		rec := rootKeyRecord{ID: k.ID, Name: k.Name, Display: k.Display, Hash: hashHex(hash), Permissions: string(perms),
			CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt.UTC()}
		if err := tx.Omit("CreatedByEmail").Create(&rec).Error; err != nil {
			return fmt.Errorf("store: create root key: %w", err)
		}
		return db.writeAudit(tx, e)
	})
}

// RootKeys returns every root key, newest first, with its creator's email.
func (db *DB) RootKeys(ctx context.Context) ([]rootkey.RootKey, error) {
	var recs []rootKeyRecord
	err := db.ctx(ctx).Table("root_keys r").Select("r.*, COALESCE(u.email, '') AS created_by_email").
		Joins("LEFT JOIN users u ON u.id = r.created_by").Order("r.created_at DESC, r.id DESC").Find(&recs).Error
	if err != nil {
		return nil, fmt.Errorf("store: root keys: %w", err)
	}
	out := make([]rootkey.RootKey, len(recs))
	for i := range recs {
		k, err := recs[i].domain()
		if err != nil {
			return nil, err
		}
		out[i] = *k
	}
	return out, nil
}

// RootKey returns one root key, or rootkey.ErrNotFound.
func (db *DB) RootKey(ctx context.Context, id string) (*rootkey.RootKey, error) {
	return db.oneRootKey(ctx, "id = ?", id)
}

// RootKeyByHash returns the root key whose secret has the hash, revoked or
// not, or rootkey.ErrNotFound: one lookup on the unique index of hash.
func (db *DB) RootKeyByHash(ctx context.Context, hash [32]byte) (*rootkey.RootKey, error) {
	return db.oneRootKey(ctx, "hash = ?", hashHex(hash))
}

func (db *DB) oneRootKey(ctx context.Context, where string, arg string) (*rootkey.RootKey, error) {
	var rec rootKeyRecord
	err := db.ctx(ctx).Where(where, arg).Take(&rec).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, rootkey.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: root key: %w", err)
	}
	return rec.domain()
}

// RevokeRootKey revokes an active root key at at and appends e, in one
// transaction; rootkey.ErrNotFound when there is no such key or it is
// already revoked.
func (db *DB) RevokeRootKey(ctx context.Context, id string, at time.Time, e audit.Entry) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&rootKeyRecord{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", at.UTC())
		if res.Error != nil {
			return fmt.Errorf("store: revoke root key: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return rootkey.ErrNotFound
		}
		return db.writeAudit(tx, e)
	})
}

// TouchRootKey sets a root key's last use to now when it is null or older
// than before, and reports whether it did. The condition is in the UPDATE,
// so concurrent calls (on any instance) write once between them.
func (db *DB) TouchRootKey(ctx context.Context, id string, now, before time.Time) (bool, error) {
	res := db.ctx(ctx).Model(&rootKeyRecord{}).Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", id, before.UTC()).
		Update("last_used_at", now.UTC())
	if res.Error != nil {
		return false, fmt.Errorf("store: root key last use: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

var _ rootkey.Store = (*DB)(nil)
