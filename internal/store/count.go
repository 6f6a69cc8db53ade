package store

import (
	"context"
	"sync/atomic"

	"gorm.io/gorm"
)

// statementCounter is the context key of CountStatements' counter.
type statementCounter struct{}

// countCallback is the name the counting callbacks are registered under.
const countCallback = "keyhold:count_statements"

// CountStatements returns a context under which every statement this store
// runs (query, create, update, delete, raw and row) adds one to the count
// that n reads. It exists so tests can hold a page to a query budget: a
// counter carried by the context counts one request's statements and no
// background work's (the verifier's usage flushes). The callbacks are
// registered on first use and cost a context lookup per statement after.
func (db *DB) CountStatements(ctx context.Context) (_ context.Context, n func() int64) {
	cb := db.gorm.Callback()
	if cb.Query().Get(countCallback) == nil {
		count := func(tx *gorm.DB) {
			if c, ok := tx.Statement.Context.Value(statementCounter{}).(*atomic.Int64); ok {
				c.Add(1)
			}
		}
		// Errors only for a name registered twice, which the check above
		// rules out for sequential callers.
		_ = cb.Query().Before("gorm:query").Register(countCallback, count)
		_ = cb.Create().Before("gorm:create").Register(countCallback, count)
		_ = cb.Update().Before("gorm:update").Register(countCallback, count)
		_ = cb.Delete().Before("gorm:delete").Register(countCallback, count)
		_ = cb.Raw().Before("gorm:raw").Register(countCallback, count)
		_ = cb.Row().Before("gorm:row").Register(countCallback, count)
	}
	c := new(atomic.Int64)
	return context.WithValue(ctx, statementCounter{}, c), c.Load
}
