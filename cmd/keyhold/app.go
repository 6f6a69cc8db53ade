package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/keyhold/keyhold/internal/billing"
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

// openStore opens the database and migrates it: the start of every
// command that touches data.
func openStore(ctx context.Context, cfg *config.Config, stderr io.Writer) (*slog.Logger, *store.DB, error) {
	log := newLogger(cfg, stderr)
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("database (KEYHOLD_DATABASE_URL): %s", oneLine(err))
	}
	if err := db.Migrate(ctx, log); err != nil {
		db.Close()
		return nil, nil, err
	}
	return log, db, nil
}

// oneLine folds a multi-line error (pgx reports each address it tried on
// its own line) into one, so bad configuration stops start-up with one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
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

// newBilling builds the billing service from the STRIPE_* settings.
func newBilling(cfg *config.Config, db *store.DB, catalog *plans.Catalog, log *slog.Logger) (*billing.Service, error) {
	return billing.New(billing.Config{Store: db, Plans: catalog, BaseURL: cfg.BaseURL, SecretKey: cfg.StripeSecretKey,
		WebhookSecret: cfg.StripeWebhookSecret, APIBase: cfg.StripeAPIBase, Logger: log})
}

// secret returns KEYHOLD_SECRET or the one kept in the database.
func secret(ctx context.Context, cfg *config.Config, db *store.DB) ([]byte, error) {
	if cfg.Secret != nil {
		return cfg.Secret, nil
	}
	return db.Secret(ctx)
}
