package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/team"
)

// Config configures a Service.
type Config struct {
	Store   Store
	Plans   *plans.Catalog
	BaseURL *url.URL // public URL, for Checkout and Portal return URLs
	// SecretKey is STRIPE_SECRET_KEY; empty turns billing off.
	SecretKey string
	// WebhookSecret is STRIPE_WEBHOOK_SECRET; empty refuses webhooks.
	WebhookSecret string
	// APIBase is STRIPE_API_BASE (stripe-mock in tests); empty: Stripe's.
	APIBase string
	Logger  *slog.Logger
	Now     func() time.Time // nil: time.Now; for tests
}

// Service is Keyhold's billing.
type Service struct {
	store         Store
	plans         *plans.Catalog
	baseURL       *url.URL
	stripe        *client.API // nil when billing is off
	testMode      bool        // a test-mode secret key: dashboard links go to test data
	webhookSecret string
	log           *slog.Logger
	now           func() time.Time

	planChanges keyhold.Listeners[string] // account ids
}

// New returns a Service. Billing is off (Enabled false) without a secret
// key.
func New(c Config) (*Service, error) {
	if c.Store == nil || c.Plans == nil || c.BaseURL == nil {
		return nil, errors.New("billing: Store, Plans and BaseURL are required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	s := &Service{store: c.Store, plans: c.Plans, baseURL: c.BaseURL, webhookSecret: c.WebhookSecret, log: c.Logger, now: c.Now,
		testMode: strings.Contains(c.SecretKey, "_test_")}
	if c.SecretKey != "" {
		cfg := &stripe.BackendConfig{
			MaxNetworkRetries: stripe.Int64(2),
			LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelError},
		}
		if c.APIBase != "" {
			cfg.URL = stripe.String(c.APIBase)
		}
		s.stripe = &client.API{}
		s.stripe.Init(c.SecretKey, &stripe.Backends{
			API:     stripe.GetBackendWithConfig(stripe.APIBackend, cfg),
			Connect: stripe.GetBackendWithConfig(stripe.ConnectBackend, cfg),
			Uploads: stripe.GetBackendWithConfig(stripe.UploadsBackend, cfg),
		})
	}
	return s, nil
}

// Enabled reports whether a Stripe secret key is configured.
func (s *Service) Enabled() bool { return s.stripe != nil }

// WebhooksEnabled reports whether a webhook secret is configured.
func (s *Service) WebhooksEnabled() bool { return s.webhookSecret != "" }

// Plans returns the catalog.
func (s *Service) Plans() *plans.Catalog { return s.plans }

// Subscribe registers fn to be called, synchronously, after an account's
// plan or billing period may have changed. The verifier uses it to drop
// the account's cached keys.
func (s *Service) Subscribe(fn func(accountID string)) { s.planChanges.Subscribe(fn) }

func (s *Service) planChanged(accountID string) { s.planChanges.Publish(accountID) }

var (
	errOff          = keyhold.Errorf(keyhold.EINVALID, "Upgrades are not available yet.")
	errStripeFailed = keyhold.Errorf(keyhold.EUNAVAILABLE, "We could not reach Stripe. Please try again in a minute.")
)

// Overview is what the billing page shows of an account.
type Overview struct {
	Plan         *plans.Plan
	Subscription *Subscription // nil: never subscribed
	HasCustomer  bool
	CustomerID   string // the Stripe customer (cus_…); empty without one
}

// Overview returns an account's plan and subscription.
func (s *Service) Overview(ctx context.Context, accountID string) (*Overview, error) {
	c, err := s.store.Customer(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("billing: overview: %w", err)
	}
	o := &Overview{Plan: s.plans.Get(c.PlanID), HasCustomer: c.CustomerID != "", CustomerID: c.CustomerID}
	sub, err := s.store.Subscription(ctx, accountID)
	switch {
	case err == nil:
		o.Subscription = sub
	case !errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("billing: overview: %w", err)
	}
	return o, nil
}

// Checkout starts a Stripe Checkout session in subscription mode for
// planID and returns its URL. The customer is created once per account.
// The plan changes only when Stripe's webhook says the subscription is
// active. Errors: EINVALID (billing off, unknown or free plan, already
// subscribed), EFORBIDDEN (the actor's role may not), EUNAVAILABLE (Stripe
// unreachable). The account is the one the actor acts in.
func (s *Service) Checkout(ctx context.Context, actor audit.Actor, planID string) (string, error) {
	if err := team.Authorize(actor, team.ManageBilling); err != nil {
		return "", err
	}
	accountID := actor.AccountID
	if !s.Enabled() {
		return "", errOff
	}
	plan, ok := s.plans.Lookup(planID)
	if !ok || plan.Free() {
		return "", keyhold.Errorf(keyhold.EINVALID, "Choose one of the paid plans.")
	}
	if sub, err := s.store.Subscription(ctx, accountID); err == nil && paidStatuses[sub.Status] {
		return "", keyhold.Errorf(keyhold.EINVALID, "You already have a subscription. Use “Manage billing” to change your plan.")
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return "", fmt.Errorf("billing: checkout: %w", err)
	}
	customerID, err := s.customer(ctx, accountID)
	if err != nil {
		return "", err
	}
	billingURL := s.baseURL.String() + "/billing"
	params := &stripe.CheckoutSessionParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModeSubscription)),
		Customer:          stripe.String(customerID),
		ClientReferenceID: stripe.String(accountID),
		LineItems:         []*stripe.CheckoutSessionLineItemParams{{Price: stripe.String(plan.StripePriceID), Quantity: stripe.Int64(1)}},
		SuccessURL:        stripe.String(billingURL + "?checkout=success"),
		CancelURL:         stripe.String(billingURL + "?checkout=canceled"),
		SubscriptionData: &stripe.CheckoutSessionSubscriptionDataParams{
			Metadata: map[string]string{"account_id": accountID, "plan_id": plan.ID},
		},
	}
	params.Context = ctx
	sess, err := s.stripe.CheckoutSessions.New(params)
	if err != nil {
		s.log.Error("stripe: create checkout session", "account_id", accountID, "err", err)
		return "", &keyhold.Error{Code: errStripeFailed.Code, Message: errStripeFailed.Message, Err: err}
	}
	if sess.URL == "" {
		return "", &keyhold.Error{Code: errStripeFailed.Code, Message: errStripeFailed.Message, Err: errors.New("checkout session without a URL")}
	}
	return sess.URL, nil
}

// customer returns the account's Stripe customer, creating it once.
func (s *Service) customer(ctx context.Context, accountID string) (string, error) {
	c, err := s.store.Customer(ctx, accountID)
	if err != nil {
		return "", fmt.Errorf("billing: customer: %w", err)
	}
	if c.CustomerID != "" {
		return c.CustomerID, nil
	}
	params := &stripe.CustomerParams{Email: stripe.String(c.Email)}
	params.AddMetadata("account_id", accountID)
	params.Context = ctx
	cus, err := s.stripe.Customers.New(params)
	if err != nil {
		s.log.Error("stripe: create customer", "account_id", accountID, "err", err)
		return "", &keyhold.Error{Code: errStripeFailed.Code, Message: errStripeFailed.Message, Err: err}
	}
	// Two tabs racing: the first customer linked wins, the other is unused.
	id, err := s.store.SetCustomerID(ctx, accountID, cus.ID)
	if err != nil {
		return "", fmt.Errorf("billing: link customer: %w", err)
	}
	return id, nil
}

// Portal returns the URL of a Billing Portal session for the account.
// Errors: EINVALID (billing off, no customer yet), EFORBIDDEN,
// EUNAVAILABLE. The account is the one the actor acts in.
func (s *Service) Portal(ctx context.Context, actor audit.Actor) (string, error) {
	if err := team.Authorize(actor, team.ManageBilling); err != nil {
		return "", err
	}
	accountID := actor.AccountID
	if !s.Enabled() {
		return "", errOff
	}
	c, err := s.store.Customer(ctx, accountID)
	if err != nil {
		return "", fmt.Errorf("billing: portal: %w", err)
	}
	if c.CustomerID == "" {
		return "", keyhold.Errorf(keyhold.EINVALID, "You have no billing details yet: upgrade to a paid plan first.")
	}
	params := &stripe.BillingPortalSessionParams{
		Customer:  stripe.String(c.CustomerID),
		ReturnURL: stripe.String(s.baseURL.String() + "/billing"),
	}
	params.Context = ctx
	sess, err := s.stripe.BillingPortalSessions.New(params)
	if err != nil {
		s.log.Error("stripe: create portal session", "account_id", accountID, "err", err)
		return "", &keyhold.Error{Code: errStripeFailed.Code, Message: errStripeFailed.Message, Err: err}
	}
	return sess.URL, nil
}
