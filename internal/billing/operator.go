package billing

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/stripe/stripe-go/v76"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
)

// The operator's side of billing: the record of Stripe events, applying a
// failed one again, and plans given without Stripe. Callers check that the
// user is an operator.

// MaxPageSize bounds how many events one Events call returns.
const MaxPageSize = 500

// EventQuery selects recorded Stripe events; zero fields match all.
type EventQuery struct {
	Outcome string // OutcomeApplied, OutcomeIgnored, OutcomeFailed, or "processing"
	Type    string // e.g. "invoice.paid"
	Offset  int
	Limit   int // at most MaxPageSize; 0: MaxPageSize
}

// Events returns the recorded Stripe events q selects, newest first.
func (s *Service) Events(ctx context.Context, q EventQuery) ([]EventRecord, error) {
	if q.Limit <= 0 || q.Limit > MaxPageSize {
		q.Limit = MaxPageSize
	}
	q.Offset = max(q.Offset, 0)
	q.Type = strings.TrimSpace(q.Type)
	evs, err := s.store.FindStripeEvents(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("billing: events: %w", err)
	}
	return evs, nil
}

var errNoEvent = keyhold.Errorf(keyhold.ENOTFOUND, "We could not find that Stripe event.")

// Reapply applies a failed event again from the payload kept with it,
// through the same path as a webhook delivery (its signature was checked
// when it arrived), and records who asked. It returns the outcome.
// Errors: ENOTFOUND, EINVALID (the event did not fail, or nothing of it
// was kept), and the event's own failure.
func (s *Service) Reapply(ctx context.Context, actor audit.Actor, eventID string) (string, error) {
	rec, err := s.store.StripeEvent(ctx, eventID)
	if errors.Is(err, ErrNotFound) {
		return "", errNoEvent
	}
	if err != nil {
		return "", fmt.Errorf("billing: reapply: %w", err)
	}
	if rec.Outcome != OutcomeFailed {
		return "", keyhold.Errorf(keyhold.EINVALID, "Only a failed event can be applied again; this one is %s.", rec.Outcome)
	}
	if rec.Payload == "" {
		return "", keyhold.Errorf(keyhold.EINVALID, "Nothing of this event was kept to apply again. Run keyhold stripe reconcile instead.")
	}
	var ev stripe.Event
	if err := json.Unmarshal([]byte(rec.Payload), &ev); err != nil || ev.ID != rec.ID {
		return "", keyhold.Errorf(keyhold.EINVALID, "The payload kept with this event cannot be read. Run keyhold stripe reconcile instead.")
	}
	applyErr := s.apply(ctx, &ev, []byte(rec.Payload))
	outcome, account := OutcomeFailed, rec.AccountID
	if after, err := s.store.StripeEvent(context.WithoutCancel(ctx), eventID); err == nil {
		// Applied, the record names the account the event was about.
		outcome, account = after.Outcome, cmp.Or(after.AccountID, account)
	}
	e := actor.Entry(account, audit.EventReapplied, audit.TargetStripeEvent, rec.ID,
		fmt.Sprintf("%s %s applied again: %s", rec.Type, rec.ID, outcome), s.now())
	if err := s.store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		return "", fmt.Errorf("billing: reapply: %w", err)
	}
	if applyErr != nil {
		return OutcomeFailed, applyErr
	}
	return outcome, nil
}

// SetPlanManually puts an account on a plan without Stripe: a plan given
// by the operator (comped), or a return to the free plan. An account with
// a live Stripe subscription is refused: Stripe would set its plan back
// on the next event. The plan-changed listeners run, so the verifier uses
// the new limits at once. Errors: EINVALID, ENOTFOUND, ECONFLICT (paying
// through Stripe).
func (s *Service) SetPlanManually(ctx context.Context, actor audit.Actor, accountID, planID string) error {
	plan, ok := s.plans.Lookup(planID)
	if !ok {
		return keyhold.Errorf(keyhold.EINVALID, "Choose one of the plans of the catalog.")
	}
	c, err := s.manualPlanCustomer(ctx, accountID)
	if err != nil {
		return err
	}
	if c.PlanID == plan.ID {
		return nil
	}
	from := s.plans.Get(c.PlanID)
	e := actor.Entry(accountID, audit.PlanAssigned, audit.TargetAccount, accountID,
		fmt.Sprintf("%s → %s, without Stripe", from.Name, plan.Name), s.now())
	if err := s.store.AssignPlan(ctx, accountID, plan.ID, e); err != nil {
		if errors.Is(err, ErrNotFound) {
			return keyhold.Errorf(keyhold.ENOTFOUND, "No such account.")
		}
		return fmt.Errorf("billing: set plan: %w", err)
	}
	s.planChanged(accountID)
	return nil
}

// CanSetPlanManually returns SetPlanManually's refusal, if any, without
// changing anything: a caller that makes several changes at once asks
// first, so that a refused plan leaves the others unmade. Errors:
// ENOTFOUND, ECONFLICT.
func (s *Service) CanSetPlanManually(ctx context.Context, accountID string) error {
	_, err := s.manualPlanCustomer(ctx, accountID)
	return err
}

// manualPlanCustomer returns the customer of an account whose plan may be
// set without Stripe: refused (ECONFLICT) while a live subscription sets
// it.
func (s *Service) manualPlanCustomer(ctx context.Context, accountID string) (*Customer, error) {
	c, err := s.store.Customer(ctx, accountID)
	if errors.Is(err, ErrNotFound) {
		return nil, keyhold.Errorf(keyhold.ENOTFOUND, "No such account.")
	}
	if err != nil {
		return nil, fmt.Errorf("billing: set plan: %w", err)
	}
	sub, err := s.store.Subscription(ctx, accountID)
	switch {
	case err == nil && Live(sub):
		return nil, keyhold.Errorf(keyhold.ECONFLICT, "This account pays through Stripe (subscription %s is %s). Change its plan in Stripe instead.", sub.ID, sub.Status)
	case err != nil && !errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("billing: set plan: %w", err)
	}
	return c, nil
}

// CustomerURL is the Stripe dashboard page of a customer (the test-mode
// one with a test key); "" for none, or when billing is off (the mode of
// the account is then unknown).
func (s *Service) CustomerURL(customerID string) string {
	if customerID == "" || !s.Enabled() {
		return ""
	}
	base := "https://dashboard.stripe.com/"
	if s.testMode {
		base += "test/"
	}
	return base + "customers/" + url.PathEscape(customerID)
}

// EventURL is the Stripe dashboard page of an event, like CustomerURL.
func (s *Service) EventURL(eventID string) string {
	if !strings.HasPrefix(eventID, "evt_") || !s.Enabled() {
		return ""
	}
	base := "https://dashboard.stripe.com/"
	if s.testMode {
		base += "test/"
	}
	return base + "events/" + url.PathEscape(eventID)
}
