package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/pressly/goose/v3"
	"gorm.io/gorm"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keys"
)

type keyRecord struct {
	ID            string `gorm:"primaryKey"`
	AccountID     string
	Name          string
	Display       string
	Scopes        string
	Meta          string
	ExpiresAt     *time.Time
	RevokedAt     *time.Time
	LastUsedAt    *time.Time
	RateOverride  *int
	BurstOverride *int
	QuotaOverride *int64
	IPAllowlist   string // JSON array of CIDRs; '[]': any address
	CreatedAt     time.Time
	UpdatedAt     time.Time
	CreatedBy     string
	// CreatedByEmail is read only, by the queries that join the creator
	// (createdByJoin).
	CreatedByEmail string `gorm:"->;column:created_by_email"`
}

func (keyRecord) TableName() string { return "api_keys" }

// createdByJoin and createdByColumn add the email of a key's (k) creator
// to a query, as keyRecord.CreatedByEmail.
const (
	createdByJoin   = "LEFT JOIN users cu ON cu.id = k.created_by"
	createdByColumn = "COALESCE(cu.email, '') AS created_by_email"
)

type secretRecord struct {
	Hash      string `gorm:"primaryKey"`
	KeyID     string
	CreatedAt time.Time
	ExpiresAt *time.Time
}

func (secretRecord) TableName() string { return "key_secrets" }

func hashHex(h [32]byte) string { return hex.EncodeToString(h[:]) }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (r *keyRecord) domain() (*keys.Key, error) {
	k := &keys.Key{ID: r.ID, AccountID: r.AccountID, Name: r.Name, Display: r.Display,
		ExpiresAt: utcPtr(r.ExpiresAt), RevokedAt: utcPtr(r.RevokedAt), LastUsed: utcPtr(r.LastUsedAt),
		RateOverride: r.RateOverride, BurstOverride: r.BurstOverride, QuotaOverride: r.QuotaOverride,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), CreatedBy: r.CreatedBy, CreatedByEmail: r.CreatedByEmail}
	if err := json.Unmarshal([]byte(r.Scopes), &k.Scopes); err != nil {
		return nil, fmt.Errorf("store: key %s scopes: %w", r.ID, err)
	}
	// Meta is passed through as stored, never decoded: a value written
	// before keys.CheckMeta's rules would otherwise fail every read of the
	// key, the owner's edit and revoke included.
	k.Meta = json.RawMessage(r.Meta)
	if len(k.Meta) == 0 {
		k.Meta = json.RawMessage(`{}`)
	}
	if k.Scopes == nil {
		k.Scopes = []string{}
	}
	allow, err := allowlistOf(r.IPAllowlist)
	if err != nil {
		// Fails the read, and so the verification (closed): a list that
		// cannot be read must not let every address through.
		return nil, fmt.Errorf("store: key %s ip_allowlist: %w", r.ID, err)
	}
	k.IPAllowlist = allow
	return k, nil
}

// allowlistOf reads the stored allow-list; nil for none.
func allowlistOf(s string) ([]netip.Prefix, error) {
	if s == "" || s == "[]" {
		return nil, nil
	}
	var texts []string
	if err := json.Unmarshal([]byte(s), &texts); err != nil {
		return nil, err
	}
	out := make([]netip.Prefix, len(texts))
	for i, t := range texts {
		p, err := netip.ParsePrefix(t)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

func keyRecordOf(k *keys.Key) (*keyRecord, error) {
	scopes := k.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	sc, err := json.Marshal(scopes)
	if err != nil {
		return nil, fmt.Errorf("store: key scopes: %w", err)
	}
	meta := string(k.Meta) // checked by the key service
	if meta == "" {
		meta = "{}"
	}
	allow, err := json.Marshal(keys.AllowlistStrings(k.IPAllowlist)) // checked by the key service
	if err != nil {
		return nil, fmt.Errorf("store: key ip_allowlist: %w", err)
	}
	return &keyRecord{ID: k.ID, AccountID: k.AccountID, Name: k.Name, Display: k.Display, Scopes: string(sc), Meta: meta, IPAllowlist: string(allow),
		ExpiresAt: utcPtr(k.ExpiresAt), RevokedAt: utcPtr(k.RevokedAt), LastUsedAt: utcPtr(k.LastUsed),
		RateOverride: k.RateOverride, BurstOverride: k.BurstOverride, QuotaOverride: k.QuotaOverride,
		CreatedAt: k.CreatedAt.UTC(), UpdatedAt: k.UpdatedAt.UTC(), CreatedBy: k.CreatedBy}, nil
}

// lockAccount serialises key creation per account on PostgreSQL; SQLite's
// immediate transactions already serialise every writer.
func (db *DB) lockAccount(tx *gorm.DB, accountID string) error {
	if db.dialect != goose.DialectPostgres {
		return nil
	}
	return tx.Exec("SELECT 1 FROM accounts WHERE id = ? FOR UPDATE", accountID).Error
}

// CreateKey inserts a key and its first secret unless the account is
// unknown (keys.ErrNotFound), suspended (keys.ErrSuspended) or already
// holds maxKeys live keys (keys.ErrLimit).
func (db *DB) CreateKey(ctx context.Context, k *keys.Key, hash [32]byte, maxKeys int, e audit.Entry) error {
	rec, err := keyRecordOf(k)
	if err != nil {
		return err
	}
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		if err := db.lockAccount(tx, k.AccountID); err != nil {
			return fmt.Errorf("store: lock account: %w", err)
		}
		// Read under the lock: a suspension committed before this
		// transaction refuses the key, one after it finds the key and
		// disables it with the rest.
		var acc accountRecord
		err := tx.Select("id", "suspended").Where("id = ?", k.AccountID).Take(&acc).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			return keys.ErrNotFound
		case err != nil:
			return fmt.Errorf("store: read account: %w", err)
		case acc.Suspended:
			return keys.ErrSuspended
		}
		var live int64
		if err := tx.Model(&keyRecord{}).Where("account_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)",
			k.AccountID, k.CreatedAt.UTC()).Count(&live).Error; err != nil {
			return fmt.Errorf("store: count keys: %w", err)
		}
		if live >= int64(maxKeys) {
			return keys.ErrLimit
		}
		if err := tx.Create(rec).Error; err != nil {
			return fmt.Errorf("store: create key: %w", err)
		}
		if err := tx.Create(&secretRecord{Hash: hashHex(hash), KeyID: k.ID, CreatedAt: k.CreatedAt.UTC()}).Error; err != nil {
			return fmt.Errorf("store: create key secret: %w", err)
		}
		return db.writeAudit(tx, e)
	})
}

// ExpireOldSecrets ends at at the key's secrets that would work past it,
// the previous one of a rotation's grace period; they are kept, so that
// they answer EXPIRED rather than NOT_FOUND.
func (db *DB) ExpireOldSecrets(ctx context.Context, accountID, id string, at time.Time, e audit.Entry) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&keyRecord{}).Where("id = ? AND account_id = ? AND revoked_at IS NULL", id, accountID).Count(&n).Error; err != nil {
			return fmt.Errorf("store: expire old secrets: %w", err)
		}
		if n == 0 {
			return keys.ErrNotFound
		}
		res := tx.Model(&secretRecord{}).Where("key_id = ? AND expires_at > ?", id, at.UTC()).Update("expires_at", at.UTC())
		if res.Error != nil {
			return fmt.Errorf("store: expire old secrets: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return keys.ErrNotFound
		}
		return db.writeAudit(tx, e)
	})
}

// UpdateKey stores a key's name, scopes, metadata, expiry and IP
// allow-list.
func (db *DB) UpdateKey(ctx context.Context, k *keys.Key, e audit.Entry) error {
	rec, err := keyRecordOf(k)
	if err != nil {
		return err
	}
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&keyRecord{}).Where("id = ? AND account_id = ? AND revoked_at IS NULL", k.ID, k.AccountID).
			Updates(map[string]any{"name": rec.Name, "scopes": rec.Scopes, "meta": rec.Meta, "expires_at": rec.ExpiresAt,
				"ip_allowlist": rec.IPAllowlist, "updated_at": rec.UpdatedAt})
		if res.Error != nil {
			return fmt.Errorf("store: update key: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return keys.ErrNotFound
		}
		return db.writeAudit(tx, e)
	})
}

// RevokeKey marks a live key revoked.
func (db *DB) RevokeKey(ctx context.Context, accountID, id string, at time.Time, e audit.Entry) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&keyRecord{}).Where("id = ? AND account_id = ? AND revoked_at IS NULL", id, accountID).
			Updates(map[string]any{"revoked_at": at.UTC(), "updated_at": at.UTC()})
		if res.Error != nil {
			return fmt.Errorf("store: revoke key: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return keys.ErrNotFound
		}
		return db.writeAudit(tx, e)
	})
}

// RotateKey adds a new secret, ends the current ones at oldUntil (deleting
// them when that is now), and updates the display form.
func (db *DB) RotateKey(ctx context.Context, accountID, id string, hash [32]byte, display string, now, oldUntil time.Time, e audit.Entry) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&keyRecord{}).Where("id = ? AND account_id = ? AND revoked_at IS NULL", id, accountID).
			Updates(map[string]any{"display": display, "updated_at": now.UTC()})
		if res.Error != nil {
			return fmt.Errorf("store: rotate key: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return keys.ErrNotFound
		}
		if oldUntil.After(now) {
			// Secrets already ending sooner keep their earlier end.
			err := tx.Model(&secretRecord{}).Where("key_id = ? AND (expires_at IS NULL OR expires_at > ?)", id, oldUntil.UTC()).
				Update("expires_at", oldUntil.UTC()).Error
			if err != nil {
				return fmt.Errorf("store: end old secret: %w", err)
			}
		} else if err := tx.Where("key_id = ?", id).Delete(&secretRecord{}).Error; err != nil {
			return fmt.Errorf("store: delete old secret: %w", err)
		}
		if err := tx.Create(&secretRecord{Hash: hashHex(hash), KeyID: id, CreatedAt: now.UTC()}).Error; err != nil {
			return fmt.Errorf("store: create key secret: %w", err)
		}
		return db.writeAudit(tx, e)
	})
}

// SetKeyOverrides sets the operator's overrides of a key's rate, burst and
// quota; nil restores the plan's.
func (db *DB) SetKeyOverrides(ctx context.Context, keyID string, rate, burst *int, quota *int64) error {
	res := db.ctx(ctx).Model(&keyRecord{}).Where("id = ?", keyID).
		Updates(map[string]any{"rate_override": rate, "burst_override": burst, "quota_override": quota, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return fmt.Errorf("store: key overrides: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return keys.ErrNotFound
	}
	return nil
}

// AccountPlan returns the id of the account's plan.
func (db *DB) AccountPlan(ctx context.Context, accountID string) (string, error) {
	var plan string
	err := db.ctx(ctx).Model(&accountRecord{}).Where("id = ?", accountID).Select("plan_id").Take(&plan).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", keys.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: account plan: %w", err)
	}
	return plan, nil
}

var _ keys.Store = (*DB)(nil)
