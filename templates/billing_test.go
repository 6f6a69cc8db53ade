package templates

import (
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

// testCatalog is the built-in catalog with current marked.
func testCatalog(current string) []PlanCard {
	plans := []PlanCard{
		{ID: "free", Name: "Free", Price: "$0", RatePerSec: 10, Burst: 20, MonthlyQuota: 1000, MaxKeys: 3},
		{ID: "pro", Name: "Pro", Price: "$29/mo", RatePerSec: 100, Burst: 200, MonthlyQuota: 100000, MaxKeys: 10, Paid: true},
		{ID: "business", Name: "Business", Price: "$99/mo", RatePerSec: 500, Burst: 1000, MonthlyQuota: 2000000, MaxKeys: 50, Paid: true},
	}
	for i := range plans {
		plans[i].Current = plans[i].ID == current
	}
	return plans
}

// testBilling is a billing page on plan current, billing enabled, without
// a subscription or Stripe customer.
func testBilling(current string) BillingPage {
	plans := testCatalog(current)
	p := BillingPage{Layout: testLayout("Billing", "billing", testAccount(false)), Enabled: true, Plans: plans}
	for _, c := range plans {
		if c.Current {
			p.Current = c
		}
	}
	return p
}

var testRenews = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// Billing page states shared by the tests below.
func billingFree() BillingPage { return testBilling("free") }

func billingPro() BillingPage {
	p := testBilling("pro")
	p.Status, p.RenewsAt, p.PaymentState, p.HasCustomer, p.Subscribed = "active", tptr(testRenews), "paid", true, true
	return p
}

func billingPastDue() BillingPage {
	p := billingPro()
	p.Status, p.PaymentState = "past_due", "failed"
	return p
}

func billingCanceling() BillingPage {
	p := billingPro()
	p.RenewsAt, p.CancelsAt = nil, tptr(testRenews)
	return p
}

func billingCanceled() BillingPage {
	p := testBilling("free")
	p.Status, p.CanceledAt, p.HasCustomer = "canceled", tptr(testRenews.AddDate(0, -2, 0)), true
	return p
}

func billingDisabled() BillingPage {
	p := testBilling("free")
	p.Enabled = false
	return p
}

// billingPages are renderings of the billing page, for the shared page
// checks; forms counts the log-out form too.
func billingPages() []struct {
	name  string
	title string
	forms int
	c     templ.Component
} {
	withCustomer := billingFree()
	withCustomer.HasCustomer = true
	return []struct {
		name  string
		title string
		forms int
		c     templ.Component
	}{
		{"billing free", "Billing · Keyhold", 3, Billing(billingFree())},
		{"billing free with customer", "Billing · Keyhold", 4, Billing(withCustomer)},
		{"billing pro", "Billing · Keyhold", 2, Billing(billingPro())},
		{"billing past due", "Billing · Keyhold", 2, Billing(billingPastDue())},
		{"billing canceled", "Billing · Keyhold", 4, Billing(billingCanceled())},
		{"billing disabled", "Billing · Keyhold", 1, Billing(billingDisabled())},
	}
}

func TestBillingMarksTheCurrentPlan(t *testing.T) {
	tests := []struct {
		name string
		p    BillingPage
		want string // plan id
	}{
		{"free", billingFree(), "free"},
		{"pro", billingPro(), "pro"},
		{"business canceling", func() BillingPage {
			p := billingCanceling()
			p.Plans, p.Current = testCatalog("business"), testCatalog("business")[2]
			return p
		}(), "business"},
		{"disabled", billingDisabled(), "free"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := render(t, Billing(tt.p))
			cur := doc.Find(`[data-testid="current-plan"]`)
			if cur.Length() != 1 {
				t.Fatalf("%d elements with data-testid=current-plan, want 1", cur.Length())
			}
			if got, _ := cur.Attr("data-plan-id"); got != tt.want {
				t.Errorf("current plan card = %q, want %q", got, tt.want)
			}
			if !strings.Contains(cur.Text(), "Current plan") || !strings.Contains(cur.AttrOr("class", ""), "border-indigo-600") {
				t.Error("current plan card is not visibly marked")
			}
			if n := doc.Find(`[data-plan-id]`).Length(); n != len(tt.p.Plans) {
				t.Errorf("%d plan cards, want %d", n, len(tt.p.Plans))
			}
			if n := doc.Find(`[data-plan-id]`).Not(`[data-testid="current-plan"]`).Find(".badge").Length(); n != 0 {
				t.Errorf("%d badges on other plans' cards", n)
			}
		})
	}
}

func TestBillingPlanFeatures(t *testing.T) {
	doc, _ := render(t, Billing(billingFree()))
	card := doc.Find(`[data-plan-id="business"]`)
	var got []string
	card.Find(`[data-testid="plan-features"] li`).Each(func(_ int, s *goquery.Selection) {
		got = append(got, strings.TrimSpace(s.Text()))
	})
	want := []string{"2,000,000 verifications per key per month", "Rate limit 500/s per key (burst 1,000)", "Up to 50 keys"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("features = %q, want %q", got, want)
	}
	if got := strings.Join(strings.Fields(card.Find(`[data-testid="plan-price"]`).Text()), ""); got != "$99/mo" {
		t.Errorf("price = %q", got)
	}
	if got := doc.Find(`[data-testid="billing-fineprint"]`).Text(); !strings.Contains(got, "Prices in USD. Payments are processed by Stripe; Keyhold never sees your card.") {
		t.Errorf("fine print = %q", got)
	}
}

func TestBillingUpgradeForms(t *testing.T) {
	tests := []struct {
		name    string
		p       BillingPage
		want    []string // plan ids with an upgrade form, in order
		primary string   // the one primary upgrade button
		notes   map[string]string
	}{
		{"free enabled", billingFree(), []string{"pro", "business"}, "pro", map[string]string{"free": "You're on this plan"}},
		{"pro subscribed", billingPro(), nil, "", map[string]string{
			"free": "Cancel in Manage billing to return to Free", "business": "Change in Manage billing",
		}},
		{"past due", billingPastDue(), nil, "", map[string]string{"business": "Change in Manage billing"}},
		{"canceled, back on free", billingCanceled(), []string{"pro", "business"}, "pro", nil},
		{"disabled", billingDisabled(), nil, "", map[string]string{"pro": "Not available yet"}},
		{"pro without subscription", func() BillingPage { p := testBilling("pro"); p.Status = "incomplete"; return p }(), []string{"business"}, "business", map[string]string{"free": "Included"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := render(t, Billing(tt.p))
			var got []string
			doc.Find(`form[action="/billing/checkout"]`).Each(func(_ int, f *goquery.Selection) {
				if m, _ := f.Attr("method"); m != "post" {
					t.Errorf("checkout form method = %q", m)
				}
				if v, _ := f.Find(`input[type="hidden"][name="_csrf"]`).Attr("value"); v != testCSRF {
					t.Errorf("checkout form _csrf = %q", v)
				}
				plan := f.Find(`input[type="hidden"][name="plan"]`)
				if plan.Length() != 1 {
					t.Fatalf("%d plan inputs, want 1", plan.Length())
				}
				id := plan.AttrOr("value", "")
				got = append(got, id)
				card := f.Closest(`[data-plan-id]`)
				if card.AttrOr("data-plan-id", "") != id {
					t.Errorf("form for %q sits in the card of %q", id, card.AttrOr("data-plan-id", ""))
				}
				btn := f.Find(`button[type="submit"][data-testid="upgrade-` + id + `"]`)
				if want := "Upgrade to " + card.Find(`[data-testid="plan-name"]`).Text(); strings.TrimSpace(btn.Text()) != want {
					t.Errorf("button = %q, want %q", btn.Text(), want)
				}
				if btn.HasClass("btn-primary") != (id == tt.primary) {
					t.Errorf("%s button primary = %v, want %v", id, btn.HasClass("btn-primary"), id == tt.primary)
				}
			})
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("upgrade forms for %q, want %q", got, tt.want)
			}
			if n := doc.Find(`[data-testid="current-plan"] form`).Length(); n != 0 {
				t.Errorf("current plan card has %d forms", n)
			}
			for id, note := range tt.notes {
				if got := doc.Find(`[data-plan-id="` + id + `"] [data-testid="plan-note"]`).Text(); strings.TrimSpace(got) != note {
					t.Errorf("%s note = %q, want %q", id, strings.TrimSpace(got), note)
				}
			}
		})
	}
}

func TestBillingDisabledNotice(t *testing.T) {
	tests := []struct {
		name string
		p    BillingPage
		want bool
	}{
		{"disabled", billingDisabled(), true},
		{"enabled", billingFree(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := render(t, Billing(tt.p))
			notice := doc.Find(`[data-testid="billing-disabled"]`)
			if got := notice.Length() == 1; got != tt.want {
				t.Fatalf("notice shown = %v, want %v", got, tt.want)
			}
			if !tt.want {
				return
			}
			// Customers are told where they stand; how to turn billing
			// on is the operator's (the console's overview).
			if !strings.Contains(notice.Text(), "Upgrades are not available yet") {
				t.Errorf("notice = %q, want it to say upgrades are not available yet", notice.Text())
			}
			for _, name := range []string{"STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "KEYHOLD_PLANS_FILE", "operator of this Keyhold sets"} {
				if strings.Contains(doc.Text(), name) {
					t.Errorf("the customer's billing page names %s", name)
				}
			}
			if n := doc.Find(`form[action="/billing/checkout"], [data-testid^="upgrade-"]`).Length(); n != 0 {
				t.Errorf("%d upgrade forms or buttons without billing", n)
			}
			if notice.Is(`[role="alert"]`) || notice.Find(`[role="alert"]`).Length() != 0 {
				t.Error("the notice is a state, not an alert")
			}
			if n := doc.Find(`[data-plan-id]`).Length(); n != 3 {
				t.Errorf("%d plan cards, want the catalog read-only", n)
			}
		})
	}
}

func TestBillingPortalForm(t *testing.T) {
	tests := []struct {
		name string
		p    BillingPage
		want bool
	}{
		{"subscribed", billingPro(), true},
		{"canceled customer", billingCanceled(), true},
		{"no customer", billingFree(), false},
		{"customer but billing disabled", func() BillingPage { p := billingPro(); p.Enabled = false; return p }(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := render(t, Billing(tt.p))
			form := doc.Find(`form[action="/billing/portal"]`)
			if got := form.Length() == 1; got != tt.want {
				t.Fatalf("portal form shown = %v, want %v", got, tt.want)
			}
			if !tt.want {
				if doc.Find(`[data-testid="manage-billing-button"], [data-testid="view-invoices"]`).Length() != 0 {
					t.Error("portal buttons without a portal form")
				}
				return
			}
			if m, _ := form.Attr("method"); m != "post" {
				t.Errorf("method = %q", m)
			}
			if v, _ := form.Find(`input[type="hidden"][name="_csrf"]`).Attr("value"); v != testCSRF {
				t.Errorf("_csrf = %q", v)
			}
			if got := strings.TrimSpace(form.Find(`[data-testid="manage-billing-button"]`).Text()); got != "Manage billing" {
				t.Errorf("button = %q", got)
			}
			if form.Find(`button[data-testid="view-invoices"]`).Length() != 1 {
				t.Error("no View invoices")
			}
			if text := doc.Find(`[data-testid="manage-billing"]`).Text(); !strings.Contains(text, "Stripe") || !strings.Contains(text, "cancel") {
				t.Errorf("no explanation of the portal: %q", text)
			}
		})
	}
}

func TestBillingSubscription(t *testing.T) {
	tests := []struct {
		name   string
		p      BillingPage
		badge  string // "" for none
		class  string
		period string
		paid   string
	}{
		{"free", billingFree(), "", "", "No subscription", ""},
		{"active", billingPro(), "Active", "badge-success", "Renews on Dec 1, 2026", "Last payment succeeded"},
		{"trialing", func() BillingPage { p := billingPro(); p.Status, p.PaymentState = "trialing", ""; return p }(), "Trial", "badge-info", "Renews on Dec 1, 2026", ""},
		{"past due", billingPastDue(), "Payment issue", "badge-warning", "Renews on Dec 1, 2026", "Last payment failed"},
		{"canceling", billingCanceling(), "Active", "badge-success", "Cancels on Dec 1, 2026. You keep Pro until then, then return to Free.", "Last payment succeeded"},
		{"canceled", billingCanceled(), "Canceled", "badge-gray", "Canceled on Oct 1, 2026", ""},
		{"incomplete", func() BillingPage { p := testBilling("pro"); p.Status = "incomplete"; return p }(), "Awaiting payment", "badge-gray", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := render(t, Billing(tt.p))
			sub := doc.Find(`[data-testid="subscription"]`)
			if got := sub.Find(`[data-testid="subscription-plan"]`).Text(); got != tt.p.Current.Name {
				t.Errorf("plan = %q, want %q", got, tt.p.Current.Name)
			}
			badge := sub.Find(`[data-testid="subscription-status"]`)
			if badge.Text() != tt.badge || (tt.badge != "" && !badge.HasClass(tt.class)) {
				t.Errorf("badge = %q (%s), want %q (%s)", badge.Text(), badge.AttrOr("class", ""), tt.badge, tt.class)
			}
			period := strings.Join(strings.Fields(sub.Find(`[data-testid="subscription-period"]`).Text()), " ")
			if !strings.HasPrefix(period, tt.period) || (tt.period == "" && period != "") {
				t.Errorf("period = %q, want %q", period, tt.period)
			}
			if got := strings.TrimSpace(sub.Find(`[data-testid="payment-state"]`).Text()); got != tt.paid {
				t.Errorf("payment = %q, want %q", got, tt.paid)
			}
		})
	}
}

func TestBillingAlerts(t *testing.T) {
	tests := []struct {
		name string
		p    BillingPage
		want []string // alert texts, in order
	}{
		{"none", billingPro(), nil},
		{"checkout success", func() BillingPage { p := billingFree(); p.Checkout = "success"; return p }(), []string{checkoutSuccessText}},
		{"checkout canceled", func() BillingPage { p := billingFree(); p.Checkout = "canceled"; return p }(), []string{checkoutCanceledText}},
		{"unknown outcome", func() BillingPage { p := billingFree(); p.Checkout = "<b>x</b>"; return p }(), nil},
		{"payment failed", billingPastDue(), []string{paymentFailedText}},
		{"flash then checkout", func() BillingPage {
			p := billingFree()
			p.Flashes, p.Checkout = []Flash{{Kind: FlashError, Message: "Stripe is unreachable."}}, "canceled"
			return p
		}(), []string{"Stripe is unreachable.", checkoutCanceledText}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := render(t, Billing(tt.p))
			var got []string
			doc.Find(`[role="alert"]`).Each(func(_ int, s *goquery.Selection) {
				got = append(got, strings.TrimSpace(s.Text()))
			})
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("alerts = %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("success does not claim the plan changed", func(t *testing.T) {
		for _, s := range []string{"upgraded", "is now", "has changed", "have changed"} {
			if strings.Contains(strings.ToLower(checkoutSuccessText), s) {
				t.Errorf("success message says %q", s)
			}
		}
	})
	t.Run("kinds", func(t *testing.T) {
		p := billingPastDue()
		p.Checkout = "success"
		doc, _ := render(t, Billing(p))
		for id, colour := range map[string]string{"checkout-success": "emerald", "payment-failed": "red"} {
			if class := doc.Find(`[data-testid="`+id+`"]`).AttrOr("class", ""); !strings.Contains(class, "bg-"+colour+"-50") {
				t.Errorf("%s class = %q, want the %s scheme", id, class, colour)
			}
		}
	})
}

func TestBillingEscapesPlanNames(t *testing.T) {
	const evil = `<b>x</b>`
	p := billingFree()
	p.Plans[1].Name = evil
	p.Plans[0].Name, p.Current.Name = evil+"free", evil+"free"
	doc, html := render(t, Billing(p))
	if strings.Contains(html, evil) {
		t.Fatal("raw <b> in output")
	}
	if doc.Find("b").Length() != 0 {
		t.Error("plan name became markup")
	}
	if got := doc.Find(`[data-plan-id="pro"] [data-testid="plan-name"]`).Text(); got != evil {
		t.Errorf("plan name = %q", got)
	}
	if got := strings.TrimSpace(doc.Find(`[data-testid="upgrade-pro"]`).Text()); got != "Upgrade to "+evil {
		t.Errorf("button = %q", got)
	}
	if got := doc.Find(`[data-testid="subscription-plan"]`).Text(); got != evil+"free" {
		t.Errorf("current plan = %q", got)
	}
}

func TestBillingNav(t *testing.T) {
	doc, _ := render(t, Billing(billingFree()))
	if got := doc.Find(`nav a[aria-current="page"]`).AttrOr("data-nav", ""); got != "billing" {
		t.Errorf("current nav = %q", got)
	}
	if got := doc.Find("h1").Text(); got != "Billing" {
		t.Errorf("h1 = %q", got)
	}
	if got := doc.Find("h1 + p").Text(); !strings.Contains(got, "Free plan") {
		t.Errorf("intro = %q", got)
	}
}

func TestSubscriptionLabels(t *testing.T) {
	tests := []struct{ status, label, class string }{
		{"active", "Active", "badge-success"},
		{"trialing", "Trial", "badge-info"},
		{"past_due", "Payment issue", "badge-warning"},
		{"canceled", "Canceled", "badge-gray"},
		{"incomplete", "Awaiting payment", "badge-gray"},
		{"unpaid", "Unpaid", "badge-danger"},
		{"some_new_state", "Some new state", "badge-gray"},
	}
	for _, tt := range tests {
		if got := subscriptionLabel(tt.status); got != tt.label {
			t.Errorf("subscriptionLabel(%q) = %q, want %q", tt.status, got, tt.label)
		}
		if got := subscriptionBadgeClass(tt.status); !strings.Contains(got, tt.class) {
			t.Errorf("subscriptionBadgeClass(%q) = %q, want %s", tt.status, got, tt.class)
		}
	}
}

func TestSplitPrice(t *testing.T) {
	tests := []struct{ in, amount, period string }{
		{"$29/mo", "$29", "/mo"},
		{"$0", "$0", ""},
		{"$290 / year", "$290", "/ year"},
		{"", "", ""},
	}
	for _, tt := range tests {
		if a, p := splitPrice(tt.in); a != tt.amount || p != tt.period {
			t.Errorf("splitPrice(%q) = %q, %q; want %q, %q", tt.in, a, p, tt.amount, tt.period)
		}
	}
}

func TestPlanFeatureLines(t *testing.T) {
	tests := []struct {
		c                 PlanCard
		quota, rate, keys string
	}{
		{PlanCard{MonthlyQuota: 1000, RatePerSec: 10, Burst: 20, MaxKeys: 3}, "1,000 verifications per key per month", "Rate limit 10/s per key (burst 20)", "Up to 3 keys"},
		{PlanCard{MonthlyQuota: 5, RatePerSec: 10, Burst: 10, MaxKeys: 1}, "5 verifications per key per month", "Rate limit 10/s per key", "Up to 1 key"},
		{PlanCard{MonthlyQuota: 1, RatePerSec: 1000, Burst: 5000}, "1 verification per key per month", "Rate limit 1,000/s per key (burst 5,000)", "Unlimited keys"},
	}
	for _, tt := range tests {
		if got := quotaFeature(tt.c); got != tt.quota {
			t.Errorf("quotaFeature = %q, want %q", got, tt.quota)
		}
		if got := rateFeature(tt.c); got != tt.rate {
			t.Errorf("rateFeature = %q, want %q", got, tt.rate)
		}
		if got := keysFeature(tt.c); got != tt.keys {
			t.Errorf("keysFeature = %q, want %q", got, tt.keys)
		}
	}
}
