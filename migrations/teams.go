package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"strings"
)

// teamsFS holds migration 0013 (users split from accounts) for each dialect.
//
//go:embed teams/*.sql
var teamsFS embed.FS

// teams is migration 0013: users (who sign in) split from accounts (who own
// keys, plan and billing), joined by memberships with a role. On SQLite the
// tables whose columns or foreign keys change are rebuilt, which needs
// foreign keys off (dropping a referenced table would otherwise cascade), a
// pragma that SQLite ignores inside a transaction: so it runs outside
// goose's transaction, on one connection of its own, in a transaction of its
// own that checks every foreign key before committing.
func teams(postgres bool) func(ctx context.Context, db *sql.DB) error {
	return func(ctx context.Context, db *sql.DB) error {
		file := "teams/sqlite.sql"
		if postgres {
			file = "teams/postgres.sql"
		}
		text, err := teamsFS.ReadFile(file)
		if err != nil {
			return fmt.Errorf("migration 0013: %w", err)
		}
		conn, err := db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("migration 0013: %w", err)
		}
		defer conn.Close()
		if !postgres {
			if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
				return fmt.Errorf("migration 0013: foreign keys off: %w", err)
			}
			// The connection goes back to the pool: it must enforce
			// foreign keys again whatever happened.
			defer conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = ON") //nolint:errcheck // best effort; Close follows
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migration 0013: %w", err)
		}
		defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
		for _, stmt := range statements(string(text)) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migration 0013: %q: %w", firstLine(stmt), err)
			}
		}
		if !postgres {
			if err := foreignKeysHold(ctx, tx); err != nil {
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration 0013: commit: %w", err)
		}
		return nil
	}
}

// foreignKeysHold fails when any row references a row that does not exist:
// the rebuilt tables ran with foreign keys off.
func foreignKeysHold(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return fmt.Errorf("migration 0013: foreign key check: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var fk int
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			return fmt.Errorf("migration 0013: foreign key check: %w", err)
		}
		return fmt.Errorf("migration 0013: a row of %s references a missing %s", table, parent)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("migration 0013: foreign key check: %w", err)
	}
	return nil
}

// statements splits a migration file into its statements: each ends with a
// semicolon at the end of a line; comment lines are dropped. The files hold
// no semicolons inside strings or bodies.
func statements(text string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.SplitSeq(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

func firstLine(stmt string) string {
	line, _, _ := strings.Cut(stmt, "\n")
	return line
}
