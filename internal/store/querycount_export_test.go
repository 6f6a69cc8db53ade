package store

import (
	"sync/atomic"

	"gorm.io/gorm"
)

// CountQueries counts every statement db runs from now on (through gorm's
// callbacks), for tests that bound how many queries a method makes.
func (db *DB) CountQueries() *atomic.Int64 {
	var n atomic.Int64
	count := func(*gorm.DB) { n.Add(1) }
	cb := db.gorm.Callback()
	_ = cb.Query().Before("gorm:query").Register("test:count_query", count)
	_ = cb.Row().Before("gorm:row").Register("test:count_row", count)
	_ = cb.Raw().Before("gorm:raw").Register("test:count_raw", count)
	_ = cb.Create().Before("gorm:create").Register("test:count_create", count)
	_ = cb.Update().Before("gorm:update").Register("test:count_update", count)
	_ = cb.Delete().Before("gorm:delete").Register("test:count_delete", count)
	return &n
}
