package main

import (
	"context"
	"fmt"
	"io"

	"github.com/keyhold/keyhold/internal/config"
)

const stripeUsage = `Usage: keyhold stripe COMMAND

Stripe maintenance.

Commands:
  keyhold stripe reconcile
      re-read every subscription from Stripe and repair local state

Flags:
  -h, --help   print this help

Run "keyhold stripe reconcile --help" for its environment.
`

const reconcileUsage = `Usage: keyhold stripe reconcile

Reads every subscription from Stripe and applies each as the newest truth:
the cure for webhooks that were missed or refused (for example while the
endpoint's API version was wrong). It prints one line per account whose
plan or billing period changed, then a summary, and tells running
instances about the changes.

Flags:
  -h, --help   print this help

Environment:
  STRIPE_SECRET_KEY             sk_… or rk_… of the Stripe account (required)
  STRIPE_API_BASE               Stripe API base URL, e.g. stripe-mock's (default: Stripe's)
  KEYHOLD_PLANS_FILE            JSON plan catalog, as for keyhold serve (default: the built-in one)
  KEYHOLD_REDIS_URL             as for keyhold serve, so running instances drop cached plans
` + envDatabase + envLog

// stripeCmd runs Stripe maintenance: today, reconcile.
func stripeCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	_, rest, err := subcommand(args, []string{"reconcile"}, stripeUsage, stdout, stderr)
	if err != nil {
		return err
	}
	if err := parseFlags(newFlags("reconcile"), rest, reconcileUsage, stdout, stderr); err != nil {
		return err
	}
	a, err := openApp(ctx, getenv, stderr, appNeeds{check: needStripeKey, plans: true})
	if err != nil {
		return err
	}
	defer a.Close()
	cfg, db, log := a.cfg, a.db, a.log
	svc, err := newBilling(cfg, db, a.catalog, log)
	if err != nil {
		return err
	}
	// Repaired plans reach running instances at once, as a webhook's do.
	_, done, err := reachInstances(ctx, a, svc, nil)
	if err != nil {
		return err
	}
	defer done()
	if _, err := svc.Reconcile(ctx, stdout); err != nil {
		return err
	}
	return nil
}

// needStripeKey refuses to reconcile without a Stripe account, before the
// database is opened.
func needStripeKey(cfg *config.Config) error {
	if cfg.StripeSecretKey == "" {
		return fmt.Errorf("STRIPE_SECRET_KEY is not set: there is no Stripe account to reconcile with")
	}
	return nil
}
