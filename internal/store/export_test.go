package store

import "context"

// Exec runs raw SQL, for tests that must store what Keyhold itself would
// refuse to write (rows from older versions, hand edits).
func (db *DB) Exec(ctx context.Context, sql string, args ...any) error {
	return db.ctx(ctx).Exec(sql, args...).Error
}
