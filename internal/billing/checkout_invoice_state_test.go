package billing_test

import (
	"context"
	"testing"

	"github.com/keyhold/keyhold/internal/billing"
)

// TestCheckoutCompleted: a finished Checkout links the Stripe customer to
// the account that started it and notes its subscription (as incomplete,
// on the free plan, until the subscription's own events say more); any
// checkout that is not a Keyhold subscription checkout, or that would move
// another account's customer, changes nothing.
func TestCheckoutCompleted(t *testing.T) {
	type want struct {
		outcome  string
		customer string // linked to the fixture's account afterwards
		sub      string // "id status", or "" for none
		plan     string
	}
	tests := []struct {
		name   string
		before func(f *fixture)
		edit   func(cs map[string]any)
		want   want
	}{
		{"links the customer and notes the subscription", nil, nil,
			want{billing.OutcomeApplied, "cus_1", "sub_1 incomplete", "free"}},
		{"without a subscription", nil, func(cs map[string]any) { cs["subscription"] = nil },
			want{billing.OutcomeApplied, "cus_1", "", "free"}},
		{"a one-off payment", nil, func(cs map[string]any) { cs["mode"] = "payment" },
			want{billing.OutcomeIgnored, "", "", "free"}},
		{"not started by Keyhold", nil, func(cs map[string]any) { cs["client_reference_id"] = nil },
			want{billing.OutcomeIgnored, "", "", "free"}},
		{"without a customer", nil, func(cs map[string]any) { cs["customer"] = nil },
			want{billing.OutcomeIgnored, "", "", "free"}},
		{"a customer of another account", func(f *fixture) {
			other := mustAccount(t, f.db.DB, "eve@example.com")
			if _, err := f.db.SetCustomerID(context.Background(), other, "cus_1"); err != nil {
				t.Fatal(err)
			}
		}, nil, want{billing.OutcomeIgnored, "", "", "free"}},
		{"subscription already known", func(f *fixture) {
			f.link("cus_1")
			f.mustDeliver(event{ID: "evt_sub", Type: "customer.subscription.updated", Customer: "cus_1", Subscription: "sub_1", Status: "active", Price: "price_pro", Created: 200})
		}, nil, want{billing.OutcomeApplied, "cus_1", "sub_1 active", "pro"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := MustFixture(t, "sqlite", false)
			if tt.before != nil {
				tt.before(f)
			}
			edit := tt.edit
			if edit == nil {
				edit = func(map[string]any) {}
			}
			f.deliverEdited(event{ID: "evt_cs", Type: "checkout.session.completed", Customer: "cus_1", Subscription: "sub_1", Account: f.account, Created: 100}, edit)
			o, err := f.svc.Overview(context.Background(), f.account)
			if err != nil {
				t.Fatal(err)
			}
			sub := ""
			if o.Subscription != nil {
				sub = o.Subscription.ID + " " + o.Subscription.Status
			}
			got := want{f.events()["evt_cs"], o.CustomerID, sub, o.Plan.ID}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestInvoiceOfAnotherSubscriptionIsIgnored: a failed payment of some
// other subscription of the customer must not mark the account's current
// subscription as unpaid.
func TestInvoiceOfAnotherSubscriptionIsIgnored(t *testing.T) {
	f := MustFixture(t, "sqlite", false)
	f.link("cus_1")
	f.mustDeliver(event{ID: "evt_sub", Type: "customer.subscription.updated", Customer: "cus_1", Subscription: "sub_1", Status: "active", Price: "price_pro", Created: 100})
	f.mustDeliver(event{ID: "evt_fail", Type: "invoice.payment_failed", Customer: "cus_1", Subscription: "sub_other", Created: 200})
	if _, sub := f.state(); sub.PaymentState != "" {
		t.Errorf("payment state %q after another subscription's invoice, want none", sub.PaymentState)
	}
	if got := f.events()["evt_fail"]; got != billing.OutcomeIgnored {
		t.Errorf("outcome %q, want ignored", got)
	}
}

// TestRepeatedStateIsNoChange: Stripe sends subscription.updated for
// changes Keyhold does not show (metadata, a new invoice); those are
// recorded as "no change" and do not announce a plan change, while a change
// of only the cancellation flag or only the price is applied.
func TestRepeatedStateIsNoChange(t *testing.T) {
	f := MustFixture(t, "sqlite", false)
	f.link("cus_1")
	base := event{Type: "customer.subscription.updated", Customer: "cus_1", Subscription: "sub_1", Status: "active", Price: "price_pro"}
	steps := []struct {
		id          string
		edit        func(e *event)
		outcome     string
		announced   int64 // plan-change announcements so far
		plan        string
		cancelAtEnd bool
	}{
		{"evt_1", func(*event) {}, billing.OutcomeApplied, 1, "pro", false},
		{"evt_2", func(*event) {}, billing.OutcomeIgnored, 1, "pro", false},
		{"evt_3", func(e *event) { e.CancelAtPeriodEnd = "true" }, billing.OutcomeApplied, 2, "pro", true},
		{"evt_4", func(e *event) { e.CancelAtPeriodEnd = "true"; e.Price = stripeMockPrice }, billing.OutcomeApplied, 3, "business", true},
	}
	for i, s := range steps {
		e := base
		e.ID, e.Created = s.id, int64(100+i)
		s.edit(&e)
		f.mustDeliver(e)
		plan, sub := f.state()
		if got := f.events()[s.id]; got != s.outcome || f.changed.Load() != s.announced || plan != s.plan || sub.CancelAtPeriodEnd != s.cancelAtEnd {
			t.Errorf("%s: outcome %q, %d announced, plan %s, cancel at end %v; want %q, %d, %s, %v",
				s.id, got, f.changed.Load(), plan, sub.CancelAtPeriodEnd, s.outcome, s.announced, s.plan, s.cancelAtEnd)
		}
	}
}
