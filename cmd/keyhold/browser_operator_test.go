package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserOperatorSuspends is the operator's journey of issue 12: find
// an account, suspend it (a confirm step): its key answers DISABLED and
// its user sees the suspended page, with log out; lift the suspension: the
// key is VALID and the dashboard is back. Then revoke its key from the
// account page, confirmed too.
func TestBrowserOperatorSuspends(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	ops := mustCreateOperator(t, env)
	a := MustRun(t, env)
	dev := a.Client(t)
	dev.MustSignup("ada@example.com")
	secret := dev.MustCreateKey("Production backend", "read")
	if ans := verifyKey(t, a, secret); ans.Status != http.StatusOK || ans.Code != "VALID" {
		t.Fatalf("before: %d %s", ans.Status, ans.Code)
	}
	devTab := mustSessionTab(t, a, "ada@example.com", testPassword)

	br := mustSessionTab(t, a, ops, testPassword)
	asked := br.acceptDialogs()
	br.Do("find the account and suspend it",
		chromedp.Navigate(a.URL+"/admin/accounts?q=ada"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="account-row"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="account-row"] [data-testid="account-email"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="account-actions"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="suspend"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="unsuspend"]`)),
	)
	if q := <-asked; !strings.HasPrefix(q, "confirm: ") || !strings.Contains(q, "ada@example.com") {
		t.Errorf("suspending asked %q, want a confirm naming the account", q)
	}
	if got := br.Text(`[role="alert"]`); !strings.Contains(got, "DISABLED") {
		t.Errorf("after suspending the alert says %q", got)
	}
	if n := br.Count(`h1 ~ [data-testid="account-suspended"], [data-testid="account-suspended"]`); n == 0 {
		t.Error("the account page does not mark the account suspended")
	}
	if ans := verifyKey(t, a, secret); ans.Status != http.StatusForbidden || ans.Code != "DISABLED" {
		t.Errorf("suspended: %d %s, want 403 DISABLED", ans.Status, ans.Code)
	}

	// The user sees the suspended page instead of the dashboard, and can
	// log out.
	devTab.Do("open the dashboard while suspended",
		chromedp.Navigate(a.URL+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="suspended-page"]`)),
	)
	if got := devTab.Text("h1"); got != "This account is suspended" {
		t.Errorf("the suspended page's heading is %q", got)
	}
	if n := devTab.Count(`[data-testid="nav"], [data-testid="key-row"]`); n != 0 {
		t.Errorf("the suspended page shows %d parts of the portal", n)
	}

	br.Do("lift the suspension",
		chromedp.Click(chromedp.CSS(`[data-testid="unsuspend"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="suspend"]`)),
	)
	if ans := verifyKey(t, a, secret); ans.Status != http.StatusOK || ans.Code != "VALID" {
		t.Errorf("after lifting the suspension: %d %s, want 200 VALID", ans.Status, ans.Code)
	}
	devTab.Do("the dashboard is back",
		chromedp.Navigate(a.URL+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="nav"]`)),
	)

	// Revoke the key from the account page's key list.
	br.Do("revoke the key",
		chromedp.Click(chromedp.CSS(`[data-testid="admin-key-row"] [data-testid="admin-revoke"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`[data-testid="admin-revoke"]`)),
	)
	if q := <-asked; !strings.Contains(q, "Production backend") || !strings.Contains(q, "ada@example.com") {
		t.Errorf("revoking asked %q, want a confirm naming the key and its owner", q)
	}
	if got := br.Text(`[role="alert"]`); !strings.Contains(got, "revoked") {
		t.Errorf("after revoking the alert says %q", got)
	}
	if ans := verifyKey(t, a, secret); ans.Status != http.StatusUnauthorized || ans.Code != "REVOKED" {
		t.Errorf("after the operator's revoke: %d %s, want 401 REVOKED", ans.Status, ans.Code)
	}

	devTab.Do("log out while suspended",
		chromedp.Navigate(a.URL+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="nav"]`)),
	)
	br.Do("suspend again",
		chromedp.Click(chromedp.CSS(`[data-testid="suspend"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="unsuspend"]`)),
	)
	devTab.Do("log out from the suspended page",
		chromedp.Navigate(a.URL+"/keys"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="suspended-page"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="suspended-page"] [data-testid="logout"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
	)
	br.CheckConsole()
	devTab.CheckConsole()
}
