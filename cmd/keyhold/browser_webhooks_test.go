package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keyhold/keyhold/internal/events"
)

// TestBrowserWebhooks: in a real browser against the real binary, an
// operator opens the Webhooks tab, adds an endpoint for two event types
// and sees its signing secret once (the address is the list's again, so a
// reload shows the endpoint listed without the secret).
func TestBrowserWebhooks(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	ops := mustCreateOperator(t, env)
	a := MustRun(t, env)
	br := mustSessionTab(t, a, ops, testPassword)
	br.Do("add an endpoint from the Webhooks tab",
		chromedp.Navigate(a.URL+"/admin"),
		chromedp.Click(chromedp.CSS(`[data-admin-tab="webhooks"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="webhook-create-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#webhook-create-form-url`), "https://example.com/hooks/keyhold"),
		chromedp.Click(chromedp.CSS(`input[name="events"][value="key.revoked"]`)),
		chromedp.Click(chromedp.CSS(`input[name="events"][value="quota.threshold"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="create-webhook"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-webhook-secret"]`)),
	)
	secret := br.Text(`[data-testid="new-webhook-secret"]`)
	if _, err := events.ParseSecret(secret); err != nil || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("the page shows %q, not a signing secret: %v", secret, err)
	}
	if p := br.Path(); p != "/admin/webhooks" {
		t.Errorf("after the create the address is %s", p)
	}
	br.Do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-testid="webhook-row"]`)))
	if n := br.Count(`[data-testid="new-webhook-secret"]`); n != 0 {
		t.Error("a reload shows the secret again")
	}
	if got := br.Text(`[data-testid="webhook-row"] [data-testid="webhook-events"]`); got != "key.revoked quota.threshold" {
		t.Errorf("listed events %q", got)
	}
	br.CheckConsole()
}
