package main

import (
	"context"
	"fmt"
	"io"

	"github.com/keyhold/keyhold/internal/config"
)

// migrate applies pending migrations and exits.
func migrate(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	_, db, err := openStore(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(stdout, "database is up to date")
	return nil
}
