package main

import (
	"context"
	"fmt"
	"io"
)

// migrate applies pending migrations and exits.
func migrate(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	_, _, db, err := openStore(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(stdout, "database is up to date")
	return nil
}
