package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"

	"github.com/keyhold/keyhold/internal/config"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/store"
)

// buildVersion is set at link time (-ldflags "-X main.buildVersion=…").
var buildVersion = ""

func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}

func newLogger(c *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore loads the configuration, opens the database and migrates it:
// the start of every command that touches data.
func openStore(ctx context.Context, getenv func(string) string, stderr io.Writer) (*config.Config, *slog.Logger, *store.DB, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, nil, nil, err
	}
	log := newLogger(cfg, stderr)
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("database (KEYHOLD_DATABASE_URL): %w", err)
	}
	if err := db.Migrate(ctx, log); err != nil {
		db.Close()
		return nil, nil, nil, err
	}
	return cfg, log, db, nil
}

// loadPlans returns the catalog from KEYHOLD_PLANS_FILE, or the built-in
// one.
func loadPlans(cfg *config.Config) (*plans.Catalog, error) {
	if cfg.PlansFile == "" {
		return plans.New(plans.BuiltIn)
	}
	c, err := plans.Load(cfg.PlansFile)
	if err != nil {
		return nil, fmt.Errorf("KEYHOLD_PLANS_FILE: %w", err)
	}
	return c, nil
}

// secret returns KEYHOLD_SECRET or the one kept in the database.
func secret(ctx context.Context, cfg *config.Config, db *store.DB) ([]byte, error) {
	if cfg.Secret != nil {
		return cfg.Secret, nil
	}
	return db.Secret(ctx)
}
