// Package migrations embeds Keyhold's migrations. One ordered set of
// forward-only files serves SQLite and PostgreSQL alike: ids are text made
// by the application, times are TIMESTAMP in UTC, booleans are BOOLEAN.
// River's tables (0009) are made by a Go migration, Go, that runs River's
// own migrations for the dialect.
package migrations

import (
	"embed"
	"log/slog"
)

// FS holds every migration file, applied in the order of its number.
//
//go:embed *.sql
var FS embed.FS

// discard is the logger River's migrator gets: goose reports the migration.
var discard = slog.New(slog.DiscardHandler)
