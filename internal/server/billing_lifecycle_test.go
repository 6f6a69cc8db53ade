package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/billing"
)

// testClock is a clock a test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *testClock { return &testClock{t: t} }

// Now returns the clock's time.
func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// utc is a time in UTC, for the timelines below.
func utc(year int, month time.Month, day, hour, minute int) time.Time {
	return time.Date(year, month, day, hour, minute, 0, 0, time.UTC)
}

// subscriptionState is a subscription's fields in a Stripe event,
// rendered into customer.subscription.json.
type subscriptionState struct {
	Status, Price             string
	Start, End                time.Time // current_period_start, current_period_end
	CancelAtPeriodEnd         bool
	CanceledAt, EndedAt       time.Time // zero: null
	PreviousAttributes        string    // raw JSON; empty: {}
	SubCreated                time.Time
	ClockAt                   time.Time // when Stripe sends it; the event's created
	EventID, EventType, SubID string
}

// body renders the state as Stripe sends it for customer.
func (s subscriptionState) body(t *testing.T, customer string) []byte {
	t.Helper()
	data := map[string]any{"ID": s.EventID, "Type": s.EventType, "Created": s.ClockAt.Unix(), "Customer": customer,
		"Subscription": s.SubID, "Status": s.Status, "Price": s.Price, "SubCreated": s.SubCreated.Unix(),
		"PeriodStart": s.Start.Unix(), "PeriodEnd": s.End.Unix(), "CancelAtPeriodEnd": fmt.Sprint(s.CancelAtPeriodEnd),
		"PreviousAttributes": s.PreviousAttributes}
	if s.CancelAtPeriodEnd {
		data["CancelAt"] = s.End.Unix()
	}
	if !s.CanceledAt.IsZero() {
		data["CanceledAt"] = s.CanceledAt.Unix()
	}
	data["EndedAt"] = "null"
	if !s.EndedAt.IsZero() {
		data["EndedAt"] = s.EndedAt.Unix()
	}
	return stripeEvent(t, "customer.subscription.json", data)
}

// renewal is what Stripe says of the period that just ended when it
// renews a subscription.
func renewal(start, end time.Time) string {
	return fmt.Sprintf(`{"current_period_end": %d, "current_period_start": %d, "latest_invoice": "in_prev"}`, end.Unix(), start.Unix())
}

// TestSubscriptionLifecycle delivers a subscription's whole life as
// Stripe sends it, signed, to /webhooks/stripe, moving the verifier's
// clock with it: created, renewed twice (same status and price, a new
// period each time), a price change mid-period, cancel at period end, and
// the end. After each step it checks the account's plan, the stored
// period, the quota window /v1/verify reports and the billing page.
func TestSubscriptionLifecycle(t *testing.T) {
	p1s, p1e := utc(2027, 1, 20, 12, 0), utc(2027, 2, 20, 12, 0)
	p2e, p3e := utc(2027, 3, 20, 12, 0), utc(2027, 4, 20, 12, 0)
	created := utc(2027, 1, 20, 12, 0)
	cancelAsked := utc(2027, 4, 5, 9, 0)
	base := subscriptionState{SubID: "sub_life", Status: "active", Price: "price_keyhold_pro", SubCreated: created}

	steps := []struct {
		name  string
		at    time.Time // the clock when the event arrives
		event func(s subscriptionState) subscriptionState
		calls int // verifications after the event (each costs 1)

		wantPlan               string
		wantStart, wantEnd     time.Time // the stored period
		wantCancelAtPeriodEnd  bool
		wantLimit, wantUsed    int64 // quota; used includes this step's calls
		wantReset              time.Time
		wantPage, wantPageDate string // the billing page's period line and its date
	}{
		{
			name: "created", at: created.Add(5 * time.Second), calls: 3,
			event: func(s subscriptionState) subscriptionState {
				s.EventType, s.Start, s.End = "customer.subscription.created", p1s, p1e
				return s
			},
			// The billing period replaces the calendar month: a new window.
			wantPlan: "pro", wantStart: p1s, wantEnd: p1e, wantLimit: 100000, wantUsed: 3, wantReset: p1e,
			wantPage: "Renews on", wantPageDate: p1e.Format(time.RFC3339),
		},
		{
			name: "renewed", at: p1e.Add(30 * time.Second), calls: 2,
			event: func(s subscriptionState) subscriptionState {
				s.EventType, s.Start, s.End, s.PreviousAttributes = "customer.subscription.updated", p1e, p2e, renewal(p1s, p1e)
				return s
			},
			// Same status and price, a new period: usage starts again.
			wantPlan: "pro", wantStart: p1e, wantEnd: p2e, wantLimit: 100000, wantUsed: 2, wantReset: p2e,
			wantPage: "Renews on", wantPageDate: p2e.Format(time.RFC3339),
		},
		{
			name: "renewed again", at: p2e.Add(45 * time.Second), calls: 3,
			event: func(s subscriptionState) subscriptionState {
				s.EventType, s.Start, s.End, s.PreviousAttributes = "customer.subscription.updated", p2e, p3e, renewal(p1e, p2e)
				return s
			},
			wantPlan: "pro", wantStart: p2e, wantEnd: p3e, wantLimit: 100000, wantUsed: 3, wantReset: p3e,
			wantPage: "Renews on", wantPageDate: p3e.Format(time.RFC3339),
		},
		{
			name: "price changed", at: utc(2027, 4, 1, 8, 0), calls: 1,
			event: func(s subscriptionState) subscriptionState {
				s.EventType, s.Start, s.End, s.Price = "customer.subscription.updated", p2e, p3e, "price_keyhold_business"
				s.PreviousAttributes = `{"items": {"object": "list", "data": [{"id": "si_sub_life", "object": "subscription_item", "price": {"id": "price_keyhold_pro", "object": "price"}}]}}`
				return s
			},
			// The limit changes at once; the usage so far is kept.
			wantPlan: "business", wantStart: p2e, wantEnd: p3e, wantLimit: 5000000, wantUsed: 4, wantReset: p3e,
			wantPage: "Renews on", wantPageDate: p3e.Format(time.RFC3339),
		},
		{
			name: "cancel at period end", at: cancelAsked.Add(time.Second), calls: 1,
			event: func(s subscriptionState) subscriptionState {
				s.EventType, s.Start, s.End, s.Price = "customer.subscription.updated", p2e, p3e, "price_keyhold_business"
				// Stripe sets canceled_at to when the cancellation was
				// asked for, while the subscription stays active.
				s.CancelAtPeriodEnd, s.CanceledAt = true, cancelAsked
				s.PreviousAttributes = `{"cancel_at": null, "cancel_at_period_end": false, "canceled_at": null}`
				return s
			},
			// The plan and window stay until the period ends.
			wantPlan: "business", wantStart: p2e, wantEnd: p3e, wantCancelAtPeriodEnd: true, wantLimit: 5000000, wantUsed: 5, wantReset: p3e,
			wantPage: "Cancels on", wantPageDate: p3e.Format(time.RFC3339),
		},
		{
			name: "ended", at: p3e.Add(20 * time.Second), calls: 1,
			event: func(s subscriptionState) subscriptionState {
				s.EventType, s.Start, s.End, s.Price, s.Status = "customer.subscription.deleted", p2e, p3e, "price_keyhold_business", "canceled"
				s.CancelAtPeriodEnd, s.CanceledAt, s.EndedAt = true, cancelAsked, p3e
				s.PreviousAttributes = `{"status": "active"}`
				return s
			},
			// Free again, counted by calendar month (April's usage of
			// this key is none: the paid windows started on the 20th).
			wantPlan: "free", wantStart: p2e, wantEnd: p3e, wantCancelAtPeriodEnd: true, wantLimit: 1000, wantUsed: 1,
			wantReset: utc(2027, 5, 1, 0, 0), wantPage: "Canceled on", wantPageDate: cancelAsked.Format(time.RFC3339),
		},
	}

	clock := newClock(created)
	h := MustServer(t, withClock(t, clock.Now))
	ctx := context.Background()
	b := h.Browser()
	b.MustSignup("ada@example.com")
	ada := accountID(t, h, "ada@example.com")
	if _, err := h.DB.SetCustomerID(ctx, ada, "cus_life"); err != nil {
		t.Fatal(err)
	}
	_, key := b.MustCreateKey("prod", nil)
	if _, a := h.postVerify(t, verifyJSON(key, ""), nil); a.Plan != "free" || !a.Quota.Reset.Equal(utc(2027, 2, 1, 0, 0)) {
		t.Fatalf("before the subscription: %s, want free with January's calendar window", a.Raw)
	}

	for i, st := range steps {
		clock.Set(st.at)
		ev := st.event(base)
		ev.ClockAt, ev.EventID = st.at, fmt.Sprintf("evt_life_%d", i)
		if code, resp := h.postWebhook(t, ev.body(t, "cus_life"), testWebhookSecret); code != http.StatusOK {
			t.Fatalf("%s: webhook %d %s", st.name, code, resp)
		}
		if got, err := h.DB.StripeEvent(ctx, ev.EventID); err != nil || got.Outcome != billing.OutcomeApplied {
			t.Errorf("%s: the event was not applied: %+v %v", st.name, got, err)
		}

		c, err := h.DB.Customer(ctx, ada)
		if err != nil {
			t.Fatal(err)
		}
		if c.PlanID != st.wantPlan {
			t.Errorf("%s: account on %s, want %s", st.name, c.PlanID, st.wantPlan)
		}
		sub, err := h.DB.Subscription(ctx, ada)
		if err != nil {
			t.Fatal(err)
		}
		if sub.PeriodStart == nil || sub.PeriodEnd == nil || !sub.PeriodStart.Equal(st.wantStart) || !sub.PeriodEnd.Equal(st.wantEnd) {
			t.Errorf("%s: stored period %v–%v, want %v–%v", st.name, sub.PeriodStart, sub.PeriodEnd, st.wantStart, st.wantEnd)
		}
		if sub.CancelAtPeriodEnd != st.wantCancelAtPeriodEnd {
			t.Errorf("%s: stored cancel_at_period_end %v, want %v", st.name, sub.CancelAtPeriodEnd, st.wantCancelAtPeriodEnd)
		}

		var a verifyAnswer
		for range st.calls {
			_, a = h.postVerify(t, verifyJSON(key, ""), nil)
		}
		if a.Plan != st.wantPlan || a.Quota == nil || a.Quota.Limit != st.wantLimit || a.Quota.Remaining != st.wantLimit-st.wantUsed {
			t.Errorf("%s: verify %s, want plan %s and quota %d with %d used", st.name, a.Raw, st.wantPlan, st.wantLimit, st.wantUsed)
		}
		if a.Quota != nil && !a.Quota.Reset.Equal(st.wantReset) {
			t.Errorf("%s: quota.reset %v, want %v", st.name, a.Quota.Reset, st.wantReset)
		}

		line := b.Get("/billing").Doc.Find(`[data-testid="subscription-period"]`)
		text := strings.Join(strings.Fields(line.Text()), " ")
		date, _ := line.Find("time").Attr("datetime")
		if !strings.HasPrefix(text, st.wantPage) || date != st.wantPageDate {
			t.Errorf("%s: billing page says %q (%s), want %q on %s", st.name, text, date, st.wantPage, st.wantPageDate)
		}
		if st.wantPage == "Cancels on" && !strings.Contains(text, "You keep Business until then") {
			t.Errorf("%s: billing page %q does not say the plan stays until the period ends", st.name, text)
		}
	}
	// Free → Pro, Pro → Business, Business → Free: renewals and the
	// cancellation request change no plan.
	if n := planChanges(t, h, ada); n != 3 {
		t.Errorf("%d plan changes recorded, want 3", n)
	}
}

// TestQuotaWindowAcrossPeriodEnd verifies a key across the end of a
// billing period, with the renewal webhook on time, late, or not at all.
// Until Stripe's renewal arrives the window rolls forward from the stored
// period (a month on, on Stripe's anchor day): usage in it starts at zero
// and quota.reset is the end Stripe will give. When the late renewal
// arrives the window is Stripe's, and the usage counted meanwhile is kept.
func TestQuotaWindowAcrossPeriodEnd(t *testing.T) {
	cases := []struct {
		name       string
		start, end time.Time     // the stored period
		next       time.Time     // the end of the period Stripe renews into
		late       time.Duration // how long after the period end the key is verified and the renewal arrives
		renewal    bool          // whether the renewal arrives after the late calls
		wantRolled time.Time     // quota.reset before the renewal arrives
	}{
		{name: "renewal on time", start: utc(2027, 5, 10, 8, 30), end: utc(2027, 6, 10, 8, 30), next: utc(2027, 7, 10, 8, 30),
			late: 0, renewal: true},
		{name: "renewal late", start: utc(2027, 5, 10, 8, 30), end: utc(2027, 6, 10, 8, 30), next: utc(2027, 7, 10, 8, 30),
			late: 3 * time.Hour, renewal: true, wantRolled: utc(2027, 7, 10, 8, 30)},
		{name: "renewal late, period anchored on the 31st", start: utc(2026, 12, 31, 23, 0), end: utc(2027, 1, 31, 23, 0), next: utc(2027, 2, 28, 23, 0),
			late: 2 * 24 * time.Hour, renewal: true, wantRolled: utc(2027, 2, 28, 23, 0)},
		{name: "renewal late, short month before", start: utc(2027, 1, 31, 23, 0), end: utc(2027, 2, 28, 23, 0), next: utc(2027, 3, 31, 23, 0),
			late: 5 * 24 * time.Hour, renewal: true, wantRolled: utc(2027, 3, 31, 23, 0)},
		{name: "no renewal for a month and more", start: utc(2027, 5, 10, 8, 30), end: utc(2027, 6, 10, 8, 30), next: utc(2027, 7, 10, 8, 30),
			late: 31*24*time.Hour + time.Hour, wantRolled: utc(2027, 8, 10, 8, 30)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock(tc.start.Add(time.Hour))
			h := MustServer(t, withClock(t, clock.Now))
			ctx := context.Background()
			b := h.Browser()
			b.MustSignup("ada@example.com")
			if _, err := h.DB.SetCustomerID(ctx, accountID(t, h, "ada@example.com"), "cus_roll"); err != nil {
				t.Fatal(err)
			}
			_, key := b.MustCreateKey("prod", nil)
			sub := subscriptionState{SubID: "sub_roll", Status: "active", Price: "price_keyhold_pro", SubCreated: tc.start,
				EventType: "customer.subscription.created", EventID: "evt_roll_created", ClockAt: tc.start, Start: tc.start, End: tc.end}
			if code, resp := h.postWebhook(t, sub.body(t, "cus_roll"), testWebhookSecret); code != http.StatusOK {
				t.Fatalf("created: %d %s", code, resp)
			}
			verify := func(n int) verifyAnswer {
				t.Helper()
				var a verifyAnswer
				for range n {
					_, a = h.postVerify(t, verifyJSON(key, ""), nil)
				}
				if a.Plan != "pro" || a.Quota == nil {
					t.Fatalf("verify: %s", a.Raw)
				}
				return a
			}
			if a := verify(5); a.Quota.Remaining != 100000-5 || !a.Quota.Reset.Equal(tc.end) {
				t.Fatalf("in the first period: %s, want 5 used until %v", a.Raw, tc.end)
			}

			// The period ends; until Stripe says otherwise the window rolls.
			clock.Set(tc.end.Add(tc.late))
			used := int64(0)
			if !tc.wantRolled.IsZero() {
				a := verify(2)
				used = 2
				if a.Quota.Remaining != 100000-used {
					t.Errorf("after the period end without a renewal: remaining %d, want %d (usage starts at zero)", a.Quota.Remaining, 100000-used)
				}
				if !a.Quota.Reset.Equal(tc.wantRolled) {
					t.Errorf("after the period end without a renewal: quota.reset %v, want %v", a.Quota.Reset, tc.wantRolled)
				}
			}
			if !tc.renewal {
				return
			}
			renewed := sub
			renewed.EventType, renewed.EventID, renewed.ClockAt = "customer.subscription.updated", "evt_roll_renewed", tc.end.Add(tc.late)
			renewed.Start, renewed.End, renewed.PreviousAttributes = tc.end, tc.next, renewal(tc.start, tc.end)
			if code, resp := h.postWebhook(t, renewed.body(t, "cus_roll"), testWebhookSecret); code != http.StatusOK {
				t.Fatalf("renewal: %d %s", code, resp)
			}
			a := verify(1)
			used++
			if a.Quota.Remaining != 100000-used || !a.Quota.Reset.Equal(tc.next) {
				t.Errorf("after the renewal: %s, want %d used until %v", a.Raw, used, tc.next)
			}
		})
	}
}
