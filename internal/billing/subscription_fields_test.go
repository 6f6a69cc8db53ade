package billing_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/billing"
)

// deliverEdited renders e as Stripe sends it, lets edit change the
// subscription object (data.object) in ways the template cannot, signs the
// result and delivers it.
func (f *fixture) deliverEdited(e event, edit func(sub map[string]any)) {
	f.t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(payload(f.t, e), &ev); err != nil {
		f.t.Fatal(err)
	}
	edit(ev["data"].(map[string]any)["object"].(map[string]any))
	body, err := json.Marshal(ev)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.svc.HandleWebhook(context.Background(), body, sign(body, whsec, time.Now())); err != nil {
		f.t.Fatalf("deliver %s: %v", e.Type, err)
	}
}

// TestSubscriptionFieldsAsStored: what the account's billing page shows
// (period, cancellation) comes from the subscription object, and Stripe's
// "not set" forms (0, null, an empty item list) must read as not set, not
// as 1 January 1970 or a crash.
func TestSubscriptionFieldsAsStored(t *testing.T) {
	start, end := int64(1_764_547_200), int64(1_767_225_600) // 2025-12-01 .. 2026-01-01
	utc := func(s int64) *time.Time { t := time.Unix(s, 0).UTC(); return &t }
	tests := []struct {
		name           string
		edit           func(sub map[string]any)
		wantPeriod     bool
		wantCanceledAt *time.Time
		wantPrice      string
	}{
		{"as sent", func(map[string]any) {}, true, nil, "price_pro"},
		{"period start 0", func(s map[string]any) { s["current_period_start"] = 0 }, false, nil, "price_pro"},
		{"empty period", func(s map[string]any) { s["current_period_end"] = start }, false, nil, "price_pro"},
		{"period ending before it starts", func(s map[string]any) { s["current_period_end"] = start - 1 }, false, nil, "price_pro"},
		{"one-second period", func(s map[string]any) { s["current_period_end"] = start + 1 }, true, nil, "price_pro"},
		{"canceled_at 0", func(s map[string]any) { s["canceled_at"] = 0 }, true, nil, "price_pro"},
		{"canceled_at set", func(s map[string]any) { s["canceled_at"] = start + 5 }, true, utc(start + 5), "price_pro"},
		{"no items", func(s map[string]any) { s["items"].(map[string]any)["data"] = []any{} }, true, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := MustFixture(t, "sqlite", false)
			f.link("cus_1")
			f.deliverEdited(event{ID: "evt_1", Type: "customer.subscription.updated", Customer: "cus_1", Subscription: "sub_1",
				Status: "active", Price: "price_pro", Created: 100, PeriodStart: start, PeriodEnd: end}, tt.edit)
			_, sub := f.state()
			if sub == nil {
				t.Fatal("no subscription stored")
			}
			if got := sub.PeriodStart != nil && sub.PeriodEnd != nil; got != tt.wantPeriod {
				t.Errorf("period stored %v (%v .. %v), want %v", got, sub.PeriodStart, sub.PeriodEnd, tt.wantPeriod)
			}
			if tt.wantPeriod && !sub.PeriodStart.Equal(*utc(start)) {
				t.Errorf("period start %v", sub.PeriodStart)
			}
			if (sub.CanceledAt == nil) != (tt.wantCanceledAt == nil) || (sub.CanceledAt != nil && !sub.CanceledAt.Equal(*tt.wantCanceledAt)) {
				t.Errorf("canceled at %v, want %v", sub.CanceledAt, tt.wantCanceledAt)
			}
			if sub.CustomerID != "cus_1" {
				t.Errorf("customer %q, want cus_1", sub.CustomerID)
			}
			if sub.PriceID != tt.wantPrice {
				t.Errorf("price %q, want %q", sub.PriceID, tt.wantPrice)
			}
			if got := f.events()["evt_1"]; got != billing.OutcomeApplied {
				t.Errorf("outcome %q, want applied", got)
			}
		})
	}
}
