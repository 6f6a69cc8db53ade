package store

import (
	"context"
	"fmt"
	"strings"
)

// Exec runs raw SQL, for tests that must store what Keyhold itself would
// refuse to write (rows from older versions, hand edits).
func (db *DB) Exec(ctx context.Context, sql string, args ...any) error {
	return db.ctx(ctx).Exec(sql, args...).Error
}

// Rows runs a raw query and returns each row as its columns' text joined
// by " | ", NULL as "NULL", for tests that compare database contents.
func (db *DB) Rows(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := db.sql.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		text := make([]string, len(vals))
		for i, v := range vals {
			switch v := v.(type) {
			case nil:
				text[i] = "NULL"
			case []byte:
				text[i] = string(v)
			default:
				text[i] = fmt.Sprint(v)
			}
		}
		out = append(out, strings.Join(text, " | "))
	}
	return out, rows.Err()
}

// MigrateTo applies the migrations up to and including version, for tests
// that fill a database of an older schema and then migrate it.
func (db *DB) MigrateTo(ctx context.Context, version int64) error {
	p, err := db.migrations()
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}
