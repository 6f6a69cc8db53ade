package billing

import (
	"context"
	"fmt"
	"io"

	"github.com/stripe/stripe-go/v76"

	"github.com/keyhold/keyhold/internal/keyhold"
)

// Reconcile reads every subscription from Stripe and applies each one as
// the newest truth, repairing state a missed webhook left behind. It
// writes one line per change to out and returns how many accounts changed.
// Each repair is recorded like an event, with type "reconcile".
func (s *Service) Reconcile(ctx context.Context, out io.Writer) (int, error) {
	if !s.Enabled() {
		return 0, errOff
	}
	params := &stripe.SubscriptionListParams{Status: stripe.String("all")}
	params.Context = ctx
	params.AddExpand("data.customer")
	it := s.stripe.Subscriptions.List(params)
	now := s.now().Unix()
	// Each run records under ids of its own: ids made of the time alone
	// made a second run in the same second a duplicate of the first, which
	// compared nothing and repaired nothing.
	run := keyhold.NewID()
	changed, seen := 0, 0
	for it.Next() {
		sub := it.Subscription()
		seen++
		rec := EventRecord{ID: fmt.Sprintf("reconcile:%s:%s", sub.ID, run), Type: "reconcile", Created: now, ReceivedAt: s.now().UTC()}
		var account, detail string
		var applied bool
		_, err := s.applyOnce(ctx, rec, func(tx Tx) (string, string, error) {
			outcome, d, acct, err := s.applySubscription(tx, sub, now)
			account, detail, applied = acct, d, outcome == OutcomeApplied
			return outcome, d, err
		})
		if err != nil {
			return changed, fmt.Errorf("billing: reconcile %s: %w", sub.ID, err)
		}
		if applied {
			changed++
			s.planChanged(account)
			fmt.Fprintf(out, "account %s: %s\n", account, detail)
		}
	}
	if err := it.Err(); err != nil {
		return changed, fmt.Errorf("billing: list subscriptions: %w", err)
	}
	fmt.Fprintf(out, "%d subscriptions read from Stripe, %d applied\n", seen, changed)
	return changed, nil
}
