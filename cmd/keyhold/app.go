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

// application is what every command that touches data starts from: the
// configuration, its logger, the migrated database and, when the command
// asks for them, the plan catalog and the signing secret.
type application struct {
	cfg     *config.Config
	log     *slog.Logger
	db      *store.DB
	catalog *plans.Catalog // nil unless appNeeds.plans
	secret  []byte         // nil unless appNeeds.secret
}

// appNeeds says what a command needs of openApp beyond configuration,
// logger and database.
type appNeeds struct {
	// check runs on the loaded configuration before anything is opened,
	// for a setting the command cannot do without.
	check func(*config.Config) error
	// plans loads the catalog of KEYHOLD_PLANS_FILE, before the database
	// is touched, so a bad file stops start-up without a migration.
	plans bool
	// secret reads KEYHOLD_SECRET, or the one kept in the database.
	secret bool
}

// openApp is the preamble of every command that touches data: load the
// configuration, check it, load the plans, open and migrate the database,
// read the secret, in that order, so each command reports a bad setting the
// same way and before it changes anything. The caller closes the result.
func openApp(ctx context.Context, getenv func(string) string, stderr io.Writer, need appNeeds) (*application, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, err
	}
	if need.check != nil {
		if err := need.check(cfg); err != nil {
			return nil, err
		}
	}
	a := &application{cfg: cfg, log: newLogger(cfg, stderr)}
	if need.plans {
		if a.catalog, err = loadPlans(cfg); err != nil {
			return nil, err
		}
	}
	if a.db, err = store.Open(ctx, cfg.DatabaseURL); err != nil {
		return nil, fmt.Errorf("database (KEYHOLD_DATABASE_URL): %s", oneLine(err))
	}
	if err := a.db.Migrate(ctx, a.log); err != nil {
		a.db.Close()
		return nil, err
	}
	if need.secret {
		if a.secret, err = secret(ctx, cfg, a.db); err != nil {
			a.db.Close()
			return nil, err
		}
	}
	return a, nil
}

// Close closes the database.
func (a *application) Close() error { return a.db.Close() }

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
