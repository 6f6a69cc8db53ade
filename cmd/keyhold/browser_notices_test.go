package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/keyhold/keyhold/internal/testenv"
)

// postAnyToken posts form to action with the CSRF token of any form on
// page: for a request the page offers no form for.
func (c *client) postAnyToken(page, action string, form url.Values) *response {
	c.tb.Helper()
	p := c.Get(page)
	tok, ok := p.Doc.Find(`form input[name="_csrf"]`).First().Attr("value")
	if !ok || tok == "" {
		c.tb.Fatalf("GET %s has no form with a _csrf field", page)
	}
	v := url.Values{"_csrf": {tok}}
	for k, vs := range form {
		v[k] = vs
	}
	req, err := http.NewRequest(http.MethodPost, c.base+action, strings.NewReader(v.Encode()))
	if err != nil {
		c.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// TestBrowserNoticeAt85Percent: a key at 85 % of its quota shows a notice
// on the dashboard and its page, with a forecast and an Upgrade button
// that reaches Checkout (stripe-mock); it fits a phone; dismissing it
// hides it on both pages, and another account cannot dismiss it.
func TestBrowserNoticeAt85Percent(t *testing.T) {
	t.Parallel()
	a := MustRun(t, map[string]string{
		"STRIPE_SECRET_KEY":     "sk_test_123",
		"STRIPE_API_BASE":       testenv.StripeMock(t),
		"STRIPE_WEBHOOK_SECRET": testWebhookSigningSecret,
		"KEYHOLD_PLANS_FILE":    noticePlans(t),
	})
	br := MustTab(t, a)
	br.MustLogin("notice-85@example.com")
	br.Do("create a key",
		chromedp.Navigate(a.URL+"/keys/new"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/keys"] input[name="name"]`), "Production"),
		chromedp.Click(chromedp.CSS(`form[action="/keys"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-key"]`)),
	)
	key := br.Text(`[data-testid="new-key"]`)
	br.Do("no notice below 80 %", chromedp.Navigate(a.URL+"/dashboard"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="dashboard-keys"]`)))
	if n := br.Count(`[data-testid="notice"]`); n != 0 {
		t.Fatalf("%d notices on a fresh key", n)
	}
	var keyID string
	for range 85 {
		ans := mustVerify(t, a, key)
		wantCode(t, "a call below the quota", ans, http.StatusOK, "VALID")
		keyID = ans.KeyID
	}

	br.Do("the dashboard at 85 %", chromedp.Navigate(a.URL+"/dashboard"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="notice"]`)))
	if n := br.Count(`[data-testid="notice"]`); n != 1 {
		t.Errorf("%d notices, want 1", n)
	}
	text := br.Text(`[data-testid="notice"]`)
	if !strings.Contains(text, "“Production” has used 85 % of its quota") {
		t.Errorf("notice reads %q, want the key's name and 85 %%", text)
	}
	if f := br.Text(`[data-testid="notice-forecast"]`); !strings.HasPrefix(f, "At this pace ") {
		t.Errorf("forecast %q, want a sentence starting with \"At this pace\"", f)
	}
	if got := br.Text(`[data-testid="notice-upgrade-button"]`); got != "Upgrade to Pro" {
		t.Errorf("upgrade button %q, want \"Upgrade to Pro\"", got)
	}

	br.Do("phone width", chromedp.EmulateViewport(375, 800, chromedp.EmulateMobile, chromedp.EmulateTouch),
		chromedp.Navigate(a.URL+"/dashboard"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="notice"]`)))
	fits, err := chromedp.Run(br.ctx, chromedp.Evaluate[bool](`(() => {
		const n = document.querySelector('[data-testid="notice"]').getBoundingClientRect();
		return document.documentElement.scrollWidth <= window.innerWidth && n.right <= window.innerWidth && n.left >= 0;
	})()`))
	if err != nil || !fits {
		t.Errorf("at 375 px the notice does not fit the page (err %v)", err)
	}
	br.Do("desktop width", chromedp.EmulateViewport(1280, 900))

	// The Upgrade button posts to Checkout and is sent on to Stripe.
	br.Do("the dashboard again", chromedp.Navigate(a.URL+"/dashboard"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="notice-upgrade-button"]`)))
	watch, stopWatching := context.WithCancel(br.ctx)
	toCheckout := make(chan *network.EventRequestWillBeSent, 1)
	requests := chromedp.Events(watch, network.RequestWillBeSent)
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
	br.Do("click Upgrade", chromedp.Click(chromedp.CSS(`[data-testid="notice-upgrade-button"]`)))
	select {
	case nav := <-toCheckout:
		if rr := nav.RedirectResponse; rr == nil || rr.Status != http.StatusSeeOther || rr.URL != a.URL+"/billing/checkout" {
			t.Errorf("the navigation to Checkout does not follow a 303 from %s/billing/checkout: %+v", a.URL, rr)
		}
	case <-time.After(15 * time.Second):
		br.CheckConsole()
		t.Fatalf("no request to https://checkout.stripe.com/ within 15s of the click (tab at %s)", br.location())
	}
	stopWatching()
	br.LeftApp()

	// Another account cannot dismiss it with its id.
	br.Do("the key's page", chromedp.Navigate(a.URL+"/keys/"+keyID), chromedp.WaitVisible(chromedp.CSS(`[data-testid="notice"]`)))
	id, err := chromedp.Run(br.ctx, chromedp.Evaluate[string](`document.querySelector('[data-testid="notice"]').dataset.noticeId`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "q80."+keyID+".") {
		t.Fatalf("notice id %q, want q80.%s.…", id, keyID)
	}
	other := a.Client(t)
	other.MustSignup("notice-other@example.com")
	if p := other.postAnyToken("/dashboard", "/notices/"+id+"/dismiss", url.Values{"back": {"/dashboard"}}); p.StatusCode != http.StatusNotFound {
		t.Errorf("another account dismissing %s: %s, want 404", id, p.Status)
	}
	forged := strings.Replace(id, "q80.", "q100.", 1)
	if p := other.postAnyToken("/dashboard", "/notices/"+forged+"/dismiss", nil); p.StatusCode != http.StatusNotFound {
		t.Errorf("dismissing a notice that is not shown (%s): %s, want 404", forged, p.Status)
	}
	br.Do("still shown", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-testid="notice"]`)))

	br.Do("dismiss it", chromedp.Click(chromedp.CSS(`[data-testid="notice-dismiss-button"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="key-settings-form"]`)))
	if p := br.Path(); p != "/keys/"+keyID {
		t.Errorf("after the dismissal the tab is at %s, want the key's page", p)
	}
	if n := br.Count(`[data-testid="notice"]`); n != 0 {
		t.Errorf("%d notices on the key's page after the dismissal", n)
	}
	br.Do("the dashboard after", chromedp.Navigate(a.URL+"/dashboard"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="dashboard-keys"]`)))
	if n := br.Count(`[data-testid="notice"]`); n != 0 {
		t.Errorf("%d notices on the dashboard after the dismissal", n)
	}
	// At 100 % it is another notice, shown again.
	for range 15 {
		mustVerify(t, a, key)
	}
	br.Do("the dashboard at 100 %", chromedp.Navigate(a.URL+"/dashboard"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="notice"]`)))
	if f := br.Text(`[data-testid="notice-forecast"]`); !strings.HasPrefix(f, "The quota is used up until ") {
		t.Errorf("forecast at 100 %%: %q", f)
	}
	br.CheckConsole()
}
