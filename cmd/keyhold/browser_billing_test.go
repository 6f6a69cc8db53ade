package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/testenv"
)

// TestBrowserUpgradeThroughCheckout clicks "Upgrade to Pro" on the billing
// page: the browser must be sent on (303) to the Checkout page that Stripe
// (stripe-mock) made, which the Content-Security-Policy must allow
// (Chrome applies form-action to the redirect that follows a POST). The
// page itself cannot load here, with no network. Stripe's webhooks then
// make the account Pro, on the page and in /v1/verify.
func TestBrowserUpgradeThroughCheckout(t *testing.T) {
	t.Parallel()
	const proQuota = 100_000
	plansFile := writePlansFile(t,
		plans.Plan{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 10, Burst: 20, MonthlyQuota: 1000, MaxKeys: 3},
		plans.Plan{ID: "pro", Name: "Pro", Price: "$29/mo", StripePriceID: "price_pro", RatePerSecond: 100, Burst: 200, MonthlyQuota: proQuota, MaxKeys: 10},
	)
	a := MustRun(t, map[string]string{
		"STRIPE_SECRET_KEY":     "sk_test_123",
		"STRIPE_API_BASE":       testenv.StripeMock(t),
		"STRIPE_WEBHOOK_SECRET": testWebhookSigningSecret,
		"KEYHOLD_PLANS_FILE":    plansFile,
	})
	br := MustTab(t, a)
	br.MustLogin("ada@example.com")

	br.Do("create a key",
		chromedp.Navigate(a.URL+"/keys/new"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/keys"] input[name="name"]`), "Production"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/keys"] input[name="scopes"]`), "read"),
		chromedp.Click(chromedp.CSS(`form[action="/keys"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-key"]`)),
	)
	key := br.Text(`[data-testid="new-key"]`)
	before := mustVerify(t, a, key)
	wantCode(t, "the new key", before, http.StatusOK, "VALID")
	if before.Plan != "free" || before.Quota.Limit != 1000 {
		t.Fatalf("before the upgrade: %s, want plan free with a quota of 1000", before)
	}

	br.Do("open the billing page",
		chromedp.Navigate(a.URL+"/billing"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="upgrade-pro"]`)),
	)
	if got := br.Text(`[data-testid="current-plan"]`); !strings.Contains(got, "Free") {
		t.Errorf("current plan before the upgrade: %q, want Free", got)
	}

	// Watch the tab's requests from before the click.
	watch, stopWatching := context.WithCancel(br.ctx)
	defer stopWatching()
	toCheckout := make(chan *network.EventRequestWillBeSent, 1)
	failed := make(chan *network.EventLoadingFailed, 16)
	requests := chromedp.Events(watch, network.RequestWillBeSent)
	failures := chromedp.Events(watch, network.LoadingFailed)
	go func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			if strings.HasPrefix(ev.Request.URL, "https://checkout.stripe.com/") {
				select {
				case toCheckout <- &ev:
				default:
				}
			}
		}
	}()
	go func() {
		for ev, err := range failures {
			if err != nil {
				return
			}
			select {
			case failed <- &ev:
			default:
			}
		}
	}()

	br.Do("click Upgrade to Pro", chromedp.Click(chromedp.CSS(`[data-testid="upgrade-pro"]`)))
	var nav *network.EventRequestWillBeSent
	select {
	case nav = <-toCheckout:
	case <-time.After(15 * time.Second):
		br.CheckConsole() // a CSP refusal shows up there
		t.Fatalf("no request to https://checkout.stripe.com/ within 15s of the click (tab at %s)", br.location())
	}
	if nav.Type != network.ResourceTypeDocument || nav.Request.Method != http.MethodGet {
		t.Errorf("the request to Checkout is a %s %s, want a GET of a document (a navigation)", nav.Type, nav.Request.Method)
	}
	if rr := nav.RedirectResponse; rr == nil || rr.Status != http.StatusSeeOther || rr.URL != a.URL+"/billing/checkout" {
		t.Errorf("the navigation to Checkout does not follow a 303 from %s/billing/checkout: %+v", a.URL, rr)
	}
	// It fails for want of a network, never because a policy blocked it.
	deadline := time.After(10 * time.Second)
wait:
	for {
		select {
		case f := <-failed:
			if f.RequestID != nav.RequestID {
				continue
			}
			t.Logf("the navigation to Checkout ended with %s", f.ErrorText)
			if f.BlockedReason != "" || strings.Contains(f.ErrorText, "BLOCKED") {
				t.Errorf("the navigation to Checkout was blocked: %s (reason %q)", f.ErrorText, f.BlockedReason)
			}
			break wait
		case <-deadline:
			break wait // still loading: not blocked either
		}
	}
	stopWatching()
	br.LeftApp()

	// Stripe's webhooks: Checkout completed, then the subscription is
	// active. The customer is the one Checkout created.
	customer := stripeCustomerOf(t, a.Env["KEYHOLD_DATABASE_URL"], before.OwnerID)
	now := time.Now()
	periodEnd := now.AddDate(0, 1, 0).Truncate(time.Second)
	events := [][]byte{
		stripeEventJSON(t, "checkout.session.completed.json", map[string]any{
			"ID": "evt_browser_checkout", "Created": now.Unix(), "Customer": customer, "Subscription": "sub_browser",
			"Account": before.OwnerID,
		}),
		stripeEventJSON(t, "customer.subscription.json", map[string]any{
			"ID": "evt_browser_sub", "Type": "customer.subscription.created", "Created": now.Unix() + 1,
			"Customer": customer, "Subscription": "sub_browser", "Status": "active", "Price": "price_pro",
			"Account": before.OwnerID, "SubCreated": now.Unix(), "PeriodStart": now.Unix(), "PeriodEnd": periodEnd.Unix(),
		}),
	}
	for _, body := range events {
		if code, resp := postStripeWebhook(t, a, body); code != http.StatusOK {
			t.Fatalf("webhook = %d %s, want 200", code, resp)
		}
	}

	br.Do("reload the billing page",
		chromedp.Navigate(a.URL+"/billing"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="current-plan"]`)),
	)
	if got := br.Text(`[data-testid="current-plan"]`); !strings.Contains(got, "Pro") {
		t.Errorf("current plan after the webhooks: %q, want Pro", got)
	}
	if n := br.Count(`[data-testid="upgrade-pro"]`); n != 0 {
		t.Errorf("the billing page still offers the upgrade to Pro (%d buttons)", n)
	}

	// The key has Pro's limits at once. Its quota window is now the billing
	// period, which began after the call above.
	after := mustVerify(t, a, key)
	wantCode(t, "the key after the upgrade", after, http.StatusOK, "VALID")
	if after.Plan != "pro" || after.RateLimit.Limit != 200 || after.Quota.Limit != proQuota || after.Quota.Remaining != proQuota-1 {
		t.Errorf("after the upgrade: %s, want plan pro, burst 200, %d of %d left", after, proQuota-1, proQuota)
	}
	if !after.Quota.Reset.Equal(periodEnd) {
		t.Errorf("quota reset %v, want the period end %v", after.Quota.Reset, periodEnd)
	}
	br.CheckConsole() // no CSP violation (form-action) nor script error
}
