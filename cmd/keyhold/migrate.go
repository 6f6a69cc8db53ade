package main

import (
	"context"
	"fmt"
	"io"
)

const migrateUsage = `Usage: keyhold migrate

Applies the pending database migrations and exits, printing "database is
up to date". keyhold serve migrates at start-up too; run this to migrate
before starting new instances, or to check that the database is
reachable. On PostgreSQL a lock keeps instances from migrating at once.

Flags:
  -h, --help   print this help

Environment:
` + envDatabase + envLog + `  The other variables of "keyhold serve --help" are checked as well.
`

// migrate applies pending migrations and exits.
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if err := parseFlags(newFlags("migrate"), args, migrateUsage, stdout, stderr); err != nil {
		return err
	}
	a, err := openApp(ctx, getenv, stderr, appNeeds{})
	if err != nil {
		return err
	}
	defer a.Close()
	fmt.Fprintln(stdout, "database is up to date")
	return nil
}
