package billing

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/keyhold/keyhold/internal/keyhold"
)

// SignatureTolerance is how old a signed webhook may be.
const SignatureTolerance = 5 * time.Minute

var errBadSignature = keyhold.Errorf(keyhold.EINVALID, "The webhook signature is not valid.")

// APIVersion is the Stripe API version Keyhold reads events in: stripe-go's
// own. A webhook endpoint set to another version sends objects whose
// fields may mean something else, so such events are refused, not guessed
// at.
const APIVersion = stripe.APIVersion

// HandleWebhook verifies and applies one Stripe webhook delivery. It
// returns nil when the event was applied, ignored or already seen (Stripe
// should stop sending it), an EINVALID error for a bad signature or an
// event of another API version than APIVersion (400, nothing applied; the
// latter is recorded as failed so the console can say what to fix), and
// any other error when our side failed (5xx: Stripe retries, and the event
// is not marked processed).
func (s *Service) HandleWebhook(ctx context.Context, payload []byte, signature string) error {
	if s.webhookSecret == "" {
		return keyhold.Errorf(keyhold.EINVALID, "Webhooks are not configured: set STRIPE_WEBHOOK_SECRET.")
	}
	// stripe-go's own version check would answer a well-signed event of
	// another version with the same error as a forged one; the signature
	// is checked here and the version below, so each gets its own answer.
	ev, err := webhook.ConstructEventWithOptions(payload, signature, s.webhookSecret,
		webhook.ConstructEventOptions{Tolerance: SignatureTolerance, IgnoreAPIVersionMismatch: true})
	if err != nil {
		return &keyhold.Error{Code: errBadSignature.Code, Message: errBadSignature.Message, Err: err}
	}
	if ev.APIVersion != APIVersion {
		return s.refuseAPIVersion(ctx, &ev)
	}
	return s.apply(ctx, &ev, payload)
}

// refuseAPIVersion records a signed event of another API version as
// failed, without its payload: applying it again would read it in the
// wrong version, and once the endpoint is fixed Stripe's retry in the right
// version replaces the record (keyhold stripe reconcile catches up the
// rest). It returns the EINVALID error Stripe is answered with.
func (s *Service) refuseAPIVersion(ctx context.Context, ev *stripe.Event) error {
	got := cmp.Or(ev.APIVersion, "none")
	msg := fmt.Sprintf("This event has API version %s, but Keyhold reads %s: set the webhook endpoint's API version to %s in Stripe.", got, APIVersion, APIVersion)
	if ev.ID != "" {
		rec := EventRecord{ID: ev.ID, Type: string(ev.Type), Created: ev.Created, Outcome: OutcomeFailed, APIVersion: got,
			Detail: fmt.Sprintf("API version %s, not %s: not applied. Set the webhook endpoint's API version to %s in Stripe; its retries will then apply it, or run keyhold stripe reconcile.",
				got, APIVersion, APIVersion),
			ReceivedAt: s.now().UTC()}
		if err := s.store.RecordFailedEvent(context.WithoutCancel(ctx), rec); err != nil {
			s.log.Error("stripe event: record API version refusal", "event_id", ev.ID, "err", err)
		}
	}
	return keyhold.Errorf(keyhold.EINVALID, "%s", msg)
}

// errDuplicate ends the transaction of an event that has taken effect
// already, so that it changes nothing.
var errDuplicate = errors.New("billing: event already processed")

// takesOver reports whether an event whose record has outcome prior is
// applied now: a new one ("") is, and so is an earlier attempt that failed,
// which Stripe's retry (or the operator's) takes over; an applied or
// ignored one is a duplicate delivery, and changes nothing.
func takesOver(prior string) bool { return prior == "" || prior == OutcomeFailed }

// applyOnce runs fn as the effect of rec unless takesOver says rec has
// taken effect already; then it returns duplicate=true and fn does not run.
func (s *Service) applyOnce(ctx context.Context, rec EventRecord, fn func(Tx) (string, string, error)) (duplicate bool, err error) {
	err = s.store.ApplyEvent(ctx, rec, func(tx Tx, prior string) (string, string, error) {
		if !takesOver(prior) {
			return "", "", errDuplicate
		}
		return fn(tx)
	})
	if errors.Is(err, errDuplicate) {
		return true, nil
	}
	return false, err
}

// apply runs an event's effect once, in one transaction with its record.
func (s *Service) apply(ctx context.Context, ev *stripe.Event, payload []byte) error {
	rec := EventRecord{ID: ev.ID, Type: string(ev.Type), Created: ev.Created, APIVersion: ev.APIVersion, ReceivedAt: s.now().UTC()}
	var changed string // account whose plan or period may have changed
	dup, err := s.applyOnce(ctx, rec, func(tx Tx) (string, string, error) {
		changed = ""
		outcome, detail, account, err := s.effect(tx, ev)
		if err == nil && outcome == OutcomeApplied {
			changed = account
		}
		return outcome, detail, err
	})
	if err != nil {
		rec.Outcome, rec.Detail, rec.Payload = OutcomeFailed, err.Error(), string(payload)
		if ferr := s.store.RecordFailedEvent(context.WithoutCancel(ctx), rec); ferr != nil {
			s.log.Error("stripe event: record failure", "event_id", ev.ID, "err", ferr)
		}
		return fmt.Errorf("billing: apply %s %s: %w", ev.Type, ev.ID, err)
	}
	if dup {
		s.log.Info("stripe event already processed", "event_id", ev.ID, "type", ev.Type)
		return nil
	}
	if changed != "" {
		s.planChanged(changed)
	}
	return nil
}

// effect decides and applies what an event does.
func (s *Service) effect(tx Tx, ev *stripe.Event) (outcome, detail, accountID string, err error) {
	switch ev.Type {
	case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted":
		var sub stripe.Subscription
		if err := json.Unmarshal(ev.Data.Raw, &sub); err != nil {
			return OutcomeIgnored, "unreadable subscription: " + err.Error(), "", nil
		}
		return s.applySubscription(tx, &sub, ev.Created)
	case "checkout.session.completed":
		var cs stripe.CheckoutSession
		if err := json.Unmarshal(ev.Data.Raw, &cs); err != nil {
			return OutcomeIgnored, "unreadable checkout session: " + err.Error(), "", nil
		}
		return s.applyCheckout(tx, &cs)
	case "invoice.paid", "invoice.payment_failed":
		var inv stripe.Invoice
		if err := json.Unmarshal(ev.Data.Raw, &inv); err != nil {
			return OutcomeIgnored, "unreadable invoice: " + err.Error(), "", nil
		}
		state := PaymentPaid
		if ev.Type == "invoice.payment_failed" {
			state = PaymentFailed
		}
		return s.applyInvoice(tx, &inv, state, ev.Created)
	}
	s.log.Info("stripe event type not handled", "event_id", ev.ID, "type", ev.Type)
	return OutcomeIgnored, "event type not handled", "", nil
}

// accountFor finds the account of a Stripe customer, linking it through
// the account id Keyhold put in the metadata when needed.
func accountFor(tx Tx, customerID, metaAccountID string) (string, error) {
	id, err := tx.AccountByCustomer(customerID)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return "", err
	}
	if metaAccountID == "" {
		return "", ErrNotFound
	}
	if err := tx.LinkCustomer(metaAccountID, customerID); err != nil {
		return "", err
	}
	return metaAccountID, nil
}

// subscriptionOf turns Stripe's subscription into ours.
func subscriptionOf(accountID string, sub *stripe.Subscription, stateAt int64) *Subscription {
	out := &Subscription{AccountID: accountID, ID: sub.ID, Status: string(sub.Status),
		CancelAtPeriodEnd: sub.CancelAtPeriodEnd, Created: sub.Created, StateAt: stateAt}
	if sub.Customer != nil {
		out.CustomerID = sub.Customer.ID
	}
	if sub.Items != nil && len(sub.Items.Data) > 0 && sub.Items.Data[0].Price != nil {
		out.PriceID = sub.Items.Data[0].Price.ID
	}
	if sub.CurrentPeriodStart > 0 && sub.CurrentPeriodEnd > sub.CurrentPeriodStart {
		ps, pe := time.Unix(sub.CurrentPeriodStart, 0).UTC(), time.Unix(sub.CurrentPeriodEnd, 0).UTC()
		out.PeriodStart, out.PeriodEnd = &ps, &pe
	}
	if sub.CanceledAt > 0 {
		c := time.Unix(sub.CanceledAt, 0).UTC()
		out.CanceledAt = &c
	}
	return out
}

// applySubscription stores a subscription's state unless what we hold is
// newer: a later event of the same subscription, a canceled subscription
// (final in Stripe), or a newer live subscription of the account.
func (s *Service) applySubscription(tx Tx, sub *stripe.Subscription, stateAt int64) (string, string, string, error) {
	if sub.ID == "" || sub.Customer == nil || sub.Customer.ID == "" {
		return OutcomeIgnored, "subscription without id or customer", "", nil
	}
	accountID, err := accountFor(tx, sub.Customer.ID, sub.Metadata["account_id"])
	if errors.Is(err, ErrNotFound) {
		s.log.Warn("stripe subscription for an unknown customer", "subscription", sub.ID, "customer", sub.Customer.ID)
		return OutcomeIgnored, "customer is not linked to any account", "", nil
	}
	if err != nil {
		return "", "", "", err
	}
	next := subscriptionOf(accountID, sub, stateAt)
	cur, err := tx.Subscription(accountID)
	switch {
	case errors.Is(err, ErrNotFound):
		cur = nil
	case err != nil:
		return "", "", "", err
	}
	if cur != nil {
		if cur.ID == next.ID {
			switch {
			case cur.Terminal():
				return OutcomeIgnored, "the subscription is already " + cur.Status, accountID, nil
			case stateAt < cur.StateAt:
				return OutcomeIgnored, "older than the state we hold", accountID, nil
			}
			next.PaymentState, next.PaymentAt = cur.PaymentState, cur.PaymentAt
			if sameState(cur, next) {
				drifted, err := s.planDrifted(tx, next)
				if err != nil {
					return "", "", "", err
				}
				if !drifted {
					return OutcomeIgnored, "no change", accountID, nil
				}
			}
		} else if !cur.Terminal() && cur.Created > next.Created {
			return OutcomeIgnored, "an older subscription than the account's current one", accountID, nil
		}
	}
	return s.save(tx, next)
}

// planDrifted reports whether the account of a live subscription is on
// another plan than the subscription gives: the row was edited by hand, or
// the plans file moved a price to another plan. Stripe's unchanged state
// then still has something to repair. A subscription that is not live
// leaves the plan alone, since an operator may have given one.
func (s *Service) planDrifted(tx Tx, sub *Subscription) (bool, error) {
	if !Live(sub) {
		return false, nil
	}
	cur, err := tx.AccountPlan(sub.AccountID)
	if err != nil {
		return false, err
	}
	want, _ := PlanFor(s.plans, sub)
	return cur != want.ID, nil
}

// save stores a subscription with the plan it gives.
func (s *Service) save(tx Tx, sub *Subscription) (string, string, string, error) {
	plan, known := PlanFor(s.plans, sub)
	detail := fmt.Sprintf("%s: %s → plan %s", sub.ID, sub.Status, plan.ID)
	if !known {
		s.log.Warn("stripe price is in no plan; the account gets the default plan", "price", sub.PriceID, "subscription", sub.ID)
		detail += " (unknown price " + sub.PriceID + ")"
	}
	if err := tx.SaveSubscription(sub, plan.ID); err != nil {
		return "", "", "", err
	}
	return OutcomeApplied, detail, sub.AccountID, nil
}

// applyCheckout links the customer to the account that started Checkout
// and notes the subscription; its plan comes with the subscription's own
// events, whichever arrives first.
func (s *Service) applyCheckout(tx Tx, cs *stripe.CheckoutSession) (string, string, string, error) {
	if cs.Mode != stripe.CheckoutSessionModeSubscription || cs.Customer == nil || cs.ClientReferenceID == "" {
		return OutcomeIgnored, "not a Keyhold subscription checkout", "", nil
	}
	accountID, err := accountFor(tx, cs.Customer.ID, cs.ClientReferenceID)
	if errors.Is(err, ErrNotFound) {
		return OutcomeIgnored, "customer is not linked to any account", "", nil
	}
	if err != nil {
		return "", "", "", err
	}
	if accountID != cs.ClientReferenceID {
		s.log.Warn("checkout for a customer linked to another account", "customer", cs.Customer.ID)
		return OutcomeIgnored, "customer belongs to another account", accountID, nil
	}
	if cs.Subscription == nil || cs.Subscription.ID == "" {
		return OutcomeApplied, "customer linked", accountID, nil
	}
	if _, err := tx.Subscription(accountID); err == nil {
		return OutcomeApplied, "customer linked; subscription already known", accountID, nil
	} else if !errors.Is(err, ErrNotFound) {
		return "", "", "", err
	}
	// Not yet told by the subscription's events: note it as incomplete
	// (free plan) so they, with their later times, fill it in.
	return s.save(tx, &Subscription{AccountID: accountID, ID: cs.Subscription.ID, CustomerID: cs.Customer.ID, Status: "incomplete"})
}

// applyInvoice records whether the subscription's latest invoice was paid.
func (s *Service) applyInvoice(tx Tx, inv *stripe.Invoice, state string, at int64) (string, string, string, error) {
	if inv.Customer == nil || inv.Subscription == nil {
		return OutcomeIgnored, "invoice without customer or subscription", "", nil
	}
	accountID, err := tx.AccountByCustomer(inv.Customer.ID)
	if errors.Is(err, ErrNotFound) {
		return OutcomeIgnored, "customer is not linked to any account", "", nil
	}
	if err != nil {
		return "", "", "", err
	}
	cur, err := tx.Subscription(accountID)
	if errors.Is(err, ErrNotFound) || (err == nil && cur.ID != inv.Subscription.ID) {
		return OutcomeIgnored, "invoice of a subscription we do not hold", accountID, nil
	}
	if err != nil {
		return "", "", "", err
	}
	if at < cur.PaymentAt {
		return OutcomeIgnored, "older than the payment state we hold", accountID, nil
	}
	cur.PaymentState, cur.PaymentAt = state, at
	return s.save(tx, cur)
}

// sameState reports whether two states of one subscription agree on
// everything the account's plan and page depend on.
func sameState(a, b *Subscription) bool {
	return a.Status == b.Status && a.PriceID == b.PriceID && a.CancelAtPeriodEnd == b.CancelAtPeriodEnd &&
		sameTime(a.PeriodStart, b.PeriodStart) && sameTime(a.PeriodEnd, b.PeriodEnd) && sameTime(a.CanceledAt, b.CanceledAt)
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
