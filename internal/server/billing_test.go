package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
)

// stripeEvent renders one of billing's Stripe-shaped fixtures.
func stripeEvent(t *testing.T, file string, data map[string]any) []byte {
	t.Helper()
	tpl := template.Must(template.ParseFiles("../billing/testdata/" + file))
	defaults := map[string]any{"CanceledAt": "null", "CancelAtPeriodEnd": "false", "SubCreated": 1_700_000_000,
		"PeriodStart": time.Now().Add(-24 * time.Hour).Unix(), "PeriodEnd": time.Now().Add(29 * 24 * time.Hour).Unix(), "Account": ""}
	for k, v := range data {
		defaults[k] = v
	}
	var b bytes.Buffer
	if err := tpl.Execute(&b, defaults); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func (h *harness) postWebhook(t *testing.T, body []byte, secret string) (int, string) {
	t.Helper()
	sig := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: time.Now()}).Header
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/webhooks/stripe", bytes.NewReader(body))
	req.Header.Set("Stripe-Signature", sig)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestBillingNotConfigured(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	p := b.Get("/billing")
	if p.StatusCode != http.StatusOK || !strings.Contains(p.Doc.Find(`[data-testid="billing-disabled"]`).Text(), "Upgrades are not available yet") {
		t.Fatalf("billing page without Stripe: %d, no notice that upgrades are not available", p.StatusCode)
	}
	if strings.Contains(p.Body, "STRIPE_") {
		t.Error("a customer's billing page shows the operator's Stripe settings")
	}
	if p.Doc.Find(`form[action="/billing/checkout"]`).Length() != 0 {
		t.Error("upgrade buttons shown with billing off")
	}
	if cur := p.Doc.Find(`[data-testid="current-plan"]`); cur.Length() != 1 || !strings.Contains(cur.Text(), "Free") {
		t.Errorf("current plan: %q", cur.Text())
	}
	tok, _ := p.Doc.Find(`input[name="_csrf"]`).First().Attr("value")
	r := b.Post("/billing/checkout", url.Values{"_csrf": {tok}, "plan": {"pro"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/billing" {
		t.Fatalf("checkout with billing off: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if !strings.Contains(alert(b.Get("/billing")), "Upgrades are not available yet") {
		t.Error("no message after a refused checkout")
	}
	// Webhooks still need a valid signature.
	body := stripeEvent(t, "unknown.json", map[string]any{"ID": "evt_1", "Created": 1})
	if code, _ := h.postWebhook(t, body, "whsec_wrong"); code != http.StatusBadRequest {
		t.Errorf("badly signed webhook: %d", code)
	}
}

func TestUpgradeThroughCheckoutAndWebhooks(t *testing.T) {
	h := MustServer(t, withStripe(t))
	b := h.Browser()
	b.MustSignup("ada@example.com")
	_, key := b.MustCreateKey("prod", nil)
	if _, a := h.postVerify(t, verifyJSON(key, ""), nil); a.Plan != "free" || a.Quota.Limit != 1000 {
		t.Fatalf("before: %s", a.Raw)
	}

	// Portal before there is a customer.
	r := b.Submit("/billing", "/billing/checkout", url.Values{"plan": {"pro"}})
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "https://checkout.stripe.com/") {
		t.Fatalf("checkout: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	// Coming back from Checkout says so, and changes nothing yet.
	p := b.Get("/billing?checkout=success")
	if !strings.Contains(alert(p), "Stripe") || !strings.Contains(p.Doc.Find(`[data-testid="current-plan"]`).Text(), "Free") {
		t.Errorf("back from checkout: %q / %q", alert(p), p.Doc.Find(`[data-testid="current-plan"]`).Text())
	}
	cust, err := h.DB.Customer(context.Background(), accountID(t, h, "ada@example.com"))
	if err != nil || cust.CustomerID == "" {
		t.Fatalf("no customer: %v", err)
	}

	// Stripe's webhook upgrades the account.
	body := stripeEvent(t, "customer.subscription.json", map[string]any{"ID": "evt_up", "Type": "customer.subscription.created",
		"Created": time.Now().Unix(), "Customer": cust.CustomerID, "Subscription": "sub_1", "Status": "active", "Price": "price_keyhold_pro"})
	if code, resp := h.postWebhook(t, body, "whsec_wrong"); code != http.StatusBadRequest || !strings.Contains(resp, `"code"`) {
		t.Fatalf("bad signature: %d %s", code, resp)
	}
	if code, resp := h.postWebhook(t, body, testWebhookSecret); code != http.StatusOK || !strings.Contains(resp, "received") {
		t.Fatalf("webhook: %d %s", code, resp)
	}
	if code, _ := h.postWebhook(t, body, testWebhookSecret); code != http.StatusOK {
		t.Fatalf("redelivery: %d", code)
	}
	p = b.Get("/billing")
	if cur := p.Doc.Find(`[data-testid="current-plan"]`); !strings.Contains(cur.Text(), "Pro") {
		t.Errorf("billing page after the webhook: %q", cur.Text())
	}
	// The next verification has Pro's limits, and the usage so far.
	_, a := h.postVerify(t, verifyJSON(key, ""), nil)
	if a.Plan != "pro" || a.Quota.Limit != 100000 || a.RateLimit.Limit != 200 {
		t.Errorf("after the upgrade: %s", a.Raw)
	}
	// The quota window is now the billing period.
	if end := time.Now().Add(29 * 24 * time.Hour); a.Quota.Reset.Sub(end).Abs() > time.Minute {
		t.Errorf("quota reset %v, want the period end %v", a.Quota.Reset, end)
	}

	// Manage billing goes to the portal.
	r = b.Submit("/billing", "/billing/portal", url.Values{})
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "https://") {
		t.Errorf("portal: %d %q", r.StatusCode, r.Header.Get("Location"))
	}

	// Canceled: back to free at once.
	body = stripeEvent(t, "customer.subscription.json", map[string]any{"ID": "evt_del", "Type": "customer.subscription.deleted",
		"Created": time.Now().Unix() + 1, "Customer": cust.CustomerID, "Subscription": "sub_1", "Status": "canceled",
		"Price": "price_keyhold_pro", "CanceledAt": time.Now().Unix()})
	if code, _ := h.postWebhook(t, body, testWebhookSecret); code != http.StatusOK {
		t.Fatalf("cancel webhook: %d", code)
	}
	if _, a := h.postVerify(t, verifyJSON(key, ""), nil); a.Plan != "free" || a.Quota.Limit != 1000 {
		t.Errorf("after the cancel: %s", a.Raw)
	}
}
