package store

import (
	"context"
	"errors"
	"sync/atomic"

	"gorm.io/gorm"
)

// statementCounter is the context key of CountStatements' counter.
type statementCounter struct{}

// countCallback is the name the counting callbacks are registered under.
const countCallback = "keyhold:count_statements"

// registerStatementCounter adds the callbacks CountStatements reads, at
// Open: registering them later would race with statements already
// running. They cost a context lookup per statement.
func registerStatementCounter(g *gorm.DB) error {
	count := func(tx *gorm.DB) {
		if c, ok := tx.Statement.Context.Value(statementCounter{}).(*atomic.Int64); ok {
			c.Add(1)
		}
	}
	cb := g.Callback()
	return errors.Join(
		cb.Query().Before("gorm:query").Register(countCallback, count),
		cb.Create().Before("gorm:create").Register(countCallback, count),
		cb.Update().Before("gorm:update").Register(countCallback, count),
		cb.Delete().Before("gorm:delete").Register(countCallback, count),
		cb.Raw().Before("gorm:raw").Register(countCallback, count),
		cb.Row().Before("gorm:row").Register(countCallback, count),
	)
}

// CountStatements returns a context under which every statement this store
// runs (query, create, update, delete, raw and row) adds one to the count
// that n reads. It exists so tests can hold a page to a query budget: a
// counter carried by the context counts one request's statements and no
// background work's (the verifier's usage flushes).
func (db *DB) CountStatements(ctx context.Context) (_ context.Context, n func() int64) {
	c := new(atomic.Int64)
	return context.WithValue(ctx, statementCounter{}, c), c.Load
}
