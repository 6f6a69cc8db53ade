// Package migrations embeds Keyhold's SQL migrations. One ordered set of
// forward-only files serves SQLite and PostgreSQL alike: ids are text made
// by the application, times are TIMESTAMP in UTC, booleans are BOOLEAN.
package migrations

import "embed"

// FS holds every migration file, applied in the order of its number.
//
//go:embed *.sql
var FS embed.FS
