package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// mustSessionTab opens a tab that holds the session of a log-in of email
// over HTTP, as a browser that logged in would.
func mustSessionTab(t *testing.T, a *app, email, password string) *tab {
	t.Helper()
	br := MustTab(t, a)
	c := a.Client(t)
	c.MustLogin(email, password)
	ck := c.SessionCookie()
	if ck == nil {
		t.Fatal("no session cookie after log-in")
	}
	httpOnly := true
	if _, err := chromedp.Call(br.ctx, network.SetCookie, network.SetCookieParams{
		Name: ck.Name, Value: ck.Value, URL: a.URL + "/", Path: "/", HTTPOnly: &httpOnly, SameSite: network.CookieSameSiteLax,
	}); err != nil {
		t.Fatalf("setting the session cookie: %v", err)
	}
	return br
}

// TestBrowserAdminOverridesQuota is the operator's journey: find a
// developer's key in the console by its last four characters, give it a
// quota of its own, and see the very next verification use it. A developer
// who opens /admin gets 404.
func TestBrowserAdminOverridesQuota(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	ops := mustCreateOperator(t, env)
	a := MustRun(t, env)

	dev := a.Client(t)
	dev.MustSignup("ada@example.com")
	secret := dev.MustCreateKey("Production backend", "read")
	if ans := verifyKey(t, a, secret); ans.Status != http.StatusOK || ans.Quota.Limit != 1000 {
		t.Fatalf("before: %d, quota limit %d; want 200 and the free plan's 1000", ans.Status, ans.Quota.Limit)
	}

	// A developer gets 404 on the console, and no link to it.
	devTab := MustTab(t, a)
	devTab.MustLogin("bob@example.com")
	resp, err := chromedp.RunResponse(devTab.ctx, chromedp.Navigate(a.URL+"/admin"))
	if err != nil {
		t.Fatalf("open /admin as a developer: %v", err)
	}
	if resp.Status != http.StatusNotFound {
		t.Errorf("/admin as a developer = %d, want 404", resp.Status)
	}
	if got := devTab.Text("h1"); !strings.Contains(got, "not find") && !strings.Contains(strings.ToLower(got), "not found") {
		t.Errorf("the 404 page says %q", got)
	}
	if n := devTab.Count(`[data-testid="admin-nav"], [data-testid="nav"] a[href="/admin"]`); n != 0 {
		t.Errorf("a developer sees %d links into the console", n)
	}

	// The operator finds the key by its last four characters.
	br := mustSessionTab(t, a, ops, testPassword)
	last4 := secret[len(secret)-4:]
	br.Do("open the console",
		chromedp.Navigate(a.URL+"/dashboard"),
		chromedp.Click(chromedp.CSS(`[data-testid="nav"] a[href="/admin"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="overview-usage"]`)),
		chromedp.Click(chromedp.CSS(`[data-admin-tab="keys"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="admin-filters"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="q"]`), last4),
	)
	// The unfiltered list already has rows: mark this document so that the
	// wait below is for the results page, not a row of this one (reading it
	// mid-navigation fails with "Cannot find context").
	if _, err := chromedp.Run(br.ctx, chromedp.Evaluate[string](`document.body.dataset.before = "search"`)); err != nil {
		t.Fatalf("marking the unfiltered list: %v", err)
	}
	br.Do("search",
		chromedp.Click(chromedp.CSS(`[data-testid="admin-filters"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`body:not([data-before]) [data-testid="admin-key-row"]`)),
	)
	if n := br.Count(`[data-testid="admin-key-row"]`); n != 1 {
		t.Fatalf("searching %q found %d keys, want 1", last4, n)
	}
	if got := br.Text(`[data-testid="admin-key-row"] [data-testid="key-display"]`); got != "kh_live_…"+last4 {
		t.Errorf("the key shows as %q, want kh_live_…%s", got, last4)
	}
	if got := br.Text(`[data-testid="admin-key-row"] [data-testid="key-owner"]`); got != "ada@example.com" {
		t.Errorf("owner %q", got)
	}

	// It gets a quota of 5 through the overrides form.
	br.Do("set the quota",
		chromedp.Click(chromedp.CSS(`[data-testid="admin-key-row"] [data-testid="key-name"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="overrides-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="overrides-form"] input[name="quota"]`), "5"),
		chromedp.Click(chromedp.CSS(`[data-testid="overrides-form"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)),
	)
	if got := br.Text(`[role="alert"]`); !strings.Contains(got, "next verification") {
		t.Errorf("after saving, the alert says %q", got)
	}
	if got := br.Text(`[data-testid="limit-quota"]`); got != "5 a month" {
		t.Errorf("the limits card says %q", got)
	}
	if body := br.Text("body"); strings.Contains(body, secret) || strings.Contains(body, secret[8:40]) {
		t.Error("the key's admin page shows the secret")
	}

	// The very next verification has the new limit.
	ans := verifyKey(t, a, secret)
	if ans.Status != http.StatusOK || ans.Quota.Limit != 5 || ans.Quota.Remaining != 3 {
		t.Errorf("after the override: %d, quota %d with %d left; want 200, 5 with 3 left (two verifications so far)",
			ans.Status, ans.Quota.Limit, ans.Quota.Remaining)
	}
	for range 3 {
		verifyKey(t, a, secret)
	}
	if ans := verifyKey(t, a, secret); ans.Status != http.StatusTooManyRequests || ans.Code != "QUOTA_EXCEEDED" {
		t.Errorf("the sixth verification: %d %s, want 429 QUOTA_EXCEEDED", ans.Status, ans.Code)
	}

	// The audit log names the operator and the change.
	br.Do("open the audit log",
		chromedp.Click(chromedp.CSS(`[data-admin-tab="audit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-table"]`)),
	)
	row := `[data-testid="audit-row"][data-action="key.overrides_changed"]`
	if got := br.Text(row); !strings.Contains(got, ops) || !strings.Contains(got, "quota plan → 5") || !strings.Contains(got, "127.0.0.1") {
		t.Errorf("the audit line says %q", got)
	}
	br.CheckConsole()
	devTab.CheckConsole()
}
