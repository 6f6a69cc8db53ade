package main

import (
	"context"
	"fmt"
	"io"

	"github.com/keyhold/keyhold/internal/config"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/verify"
)

// stripeCmd runs Stripe maintenance: today, reconcile.
func stripeCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) != 1 || args[0] != "reconcile" {
		fmt.Fprint(stderr, "keyhold: usage: keyhold stripe reconcile\n")
		return errUsage
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	if cfg.StripeSecretKey == "" {
		return fmt.Errorf("STRIPE_SECRET_KEY is not set: there is no Stripe account to reconcile with")
	}
	catalog, err := loadPlans(cfg)
	if err != nil {
		return err
	}
	log, db, err := openStore(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	svc, err := newBilling(cfg, db, catalog, log)
	if err != nil {
		return err
	}
	keySvc, err := keys.NewService(keys.Config{Store: db, Plans: catalog})
	if err != nil {
		return err
	}
	// Repaired plans reach running instances at once, as a webhook's do.
	var rl *verify.RedisLimits
	if cfg.RedisURL != "" {
		if rl, err = verify.NewRedisLimits(cfg.RedisURL, db.QuotaUsed, log); err != nil {
			return fmt.Errorf("KEYHOLD_REDIS_URL: %w", err)
		}
		defer rl.Close()
	}
	announce(ctx, log, db, rl, keySvc, svc, nil)
	if _, err := svc.Reconcile(ctx, stdout); err != nil {
		return err
	}
	return nil
}
