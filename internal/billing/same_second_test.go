package billing_test

import (
	"testing"

	"github.com/keyhold/keyhold/internal/billing"
)

// TestSameSecondIsNotOlder: Stripe stamps events and subscriptions in whole
// seconds, so two of them often share one. Only what is strictly older than
// the state held is ignored; an event of the same second is applied, as
// delivered. (Ignoring ties instead would keep whichever arrived first,
// for example a failed payment that a same-second retry had already fixed.)
func TestSameSecondIsNotOlder(t *testing.T) {
	t.Run("invoice of the same second as the payment state held", func(t *testing.T) {
		f := MustFixture(t, "sqlite", false)
		f.link("cus_1")
		f.mustDeliver(event{ID: "evt_sub", Type: "customer.subscription.updated", Customer: "cus_1", Subscription: "sub_1", Status: "active", Price: "price_pro", Created: 100})
		f.mustDeliver(event{ID: "evt_fail", Type: "invoice.payment_failed", Customer: "cus_1", Subscription: "sub_1", Created: 300})
		f.mustDeliver(event{ID: "evt_paid", Type: "invoice.paid", Customer: "cus_1", Subscription: "sub_1", Created: 300})
		if _, sub := f.state(); sub.PaymentState != billing.PaymentPaid || f.events()["evt_paid"] != billing.OutcomeApplied {
			t.Errorf("payment state %q, outcome %q; want paid, applied", sub.PaymentState, f.events()["evt_paid"])
		}
	})
	t.Run("subscription created in the same second as the current one", func(t *testing.T) {
		f := MustFixture(t, "sqlite", false)
		f.link("cus_1")
		f.mustDeliver(event{ID: "evt_a", Type: "customer.subscription.created", Customer: "cus_1", Subscription: "sub_a", Status: "active", Price: "price_pro", Created: 100, SubCreated: 1_800_000_000})
		f.mustDeliver(event{ID: "evt_b", Type: "customer.subscription.created", Customer: "cus_1", Subscription: "sub_b", Status: "active", Price: stripeMockPrice, Created: 101, SubCreated: 1_800_000_000})
		if plan, sub := f.state(); sub.ID != "sub_b" || plan != "business" {
			t.Errorf("got %s on %s; want sub_b on business", sub.ID, plan)
		}
	})
}
