package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"gorm.io/gorm/clause"
)

type settingRecord struct {
	Name  string `gorm:"primaryKey"`
	Value string
}

func (settingRecord) TableName() string { return "settings" }

// Secret returns the instance secret kept in the database, creating it on
// first use. Several instances starting at once agree on one value: the
// first insert wins and everyone reads it back.
func (db *DB) Secret(ctx context.Context) ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("store: secret: %w", err)
	}
	rec := settingRecord{Name: "secret", Value: base64.RawStdEncoding.EncodeToString(b)}
	if err := db.ctx(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&rec).Error; err != nil {
		return nil, fmt.Errorf("store: secret: %w", err)
	}
	var got settingRecord
	if err := db.ctx(ctx).Where("name = ?", "secret").Take(&got).Error; err != nil {
		return nil, fmt.Errorf("store: secret: %w", err)
	}
	s, err := base64.RawStdEncoding.DecodeString(got.Value)
	if err != nil {
		return nil, fmt.Errorf("store: secret: %w", err)
	}
	return s, nil
}
