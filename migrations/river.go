package migrations

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// RiverVersion is the version of River's own migration line that migration
// 0009 brings the database to. River's tables come through goose, so there is
// one migration story: a River upgrade that adds a migration to its line gets
// a goose migration of ours that moves this target on.
const RiverVersion = 8

// Go returns the migrations written in Go for the dialect: 0013 (teams.go)
// splits users from accounts; 0009 creates
// River's job tables (internal/jobs) by running River's own migrations for
// SQLite or PostgreSQL. They run outside goose's transaction, each River
// migration in a transaction of its own: River's migration 006 adds an
// enum value on PostgreSQL and uses it, which PostgreSQL refuses within one
// transaction (and River deprecates running its migrations in one).
// goose's session lock still keeps two instances from migrating together,
// and River records each migration it applied, so a migration cut half way
// resumes where it stopped.
func Go(postgres bool) []*goose.Migration {
	return []*goose.Migration{goose.NewGoMigration(9, &goose.GoFunc{RunDB: func(ctx context.Context, db *sql.DB) error {
		var driver riverdriver.Driver[*sql.Tx] = riversqlite.New(db)
		if postgres {
			driver = riverdatabasesql.New(db)
		}
		m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: discard})
		if err != nil {
			return fmt.Errorf("river migrations: %w", err)
		}
		if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{TargetVersion: RiverVersion}); err != nil {
			return fmt.Errorf("river migrations: %w", err)
		}
		return nil
	}}, nil),
		goose.NewGoMigration(13, &goose.GoFunc{RunDB: teams(postgres)}, nil)}
}
