package migrations

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// RiverVersion is the version of River's own migration line that migration
// 0009 brings the database to. River's tables come through goose, so there is
// one migration story: a River upgrade that adds a migration to its line gets
// a goose migration of ours that moves this target on.
const RiverVersion = 8

// Go returns the migrations written in Go for the dialect: 0009 creates
// River's job tables (internal/jobs) by running River's own migrations for
// SQLite or PostgreSQL. On SQLite they run inside goose's transaction. On
// PostgreSQL they cannot: River's migration 006 adds an enum value and uses
// it, which PostgreSQL refuses within one transaction, so River runs each of
// its migrations in a transaction of its own (goose's session lock still
// keeps two instances from migrating together, and River records what it
// applied, so a migration cut half way resumes where it stopped).
func Go(postgres bool) []*goose.Migration {
	opts := &rivermigrate.MigrateOpts{TargetVersion: RiverVersion}
	if postgres {
		return []*goose.Migration{goose.NewGoMigration(9, &goose.GoFunc{RunDB: func(ctx context.Context, db *sql.DB) error {
			m, err := rivermigrate.New(riverdatabasesql.New(db), &rivermigrate.Config{Logger: discard})
			if err != nil {
				return fmt.Errorf("river migrations: %w", err)
			}
			if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, opts); err != nil {
				return fmt.Errorf("river migrations: %w", err)
			}
			return nil
		}}, nil)}
	}
	return []*goose.Migration{goose.NewGoMigration(9, &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
		// Built without a pool: MigrateTx works in tx only.
		m, err := rivermigrate.New(riversqlite.New(nil), &rivermigrate.Config{Logger: discard})
		if err != nil {
			return fmt.Errorf("river migrations: %w", err)
		}
		if _, err := m.MigrateTx(ctx, tx, rivermigrate.DirectionUp, opts); err != nil {
			return fmt.Errorf("river migrations: %w", err)
		}
		return nil
	}}, nil)}
}
