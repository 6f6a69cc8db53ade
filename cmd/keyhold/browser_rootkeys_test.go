package main

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/rootkey"
	"github.com/keyhold/keyhold/internal/store"
)

// TestBrowserRootKeys is the operator's journey of root keys in a real
// browser against the real binary: open the Root keys tab, create a key
// with a name and two permissions, see it once (the address is the list's
// again, so a reload shows the list without the key), find it listed,
// revoke it through the confirm: it no longer authenticates.
func TestBrowserRootKeys(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	ops := mustCreateOperator(t, env)
	a := MustRun(t, env)
	br := mustSessionTab(t, a, ops, testPassword)
	asked := br.acceptDialogs()
	br.Do("create a root key from the Root keys tab",
		chromedp.Navigate(a.URL+"/admin"),
		chromedp.Click(chromedp.CSS(`[data-admin-tab="root-keys"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="root-key-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#root-key-name`), "Billing job"),
		chromedp.Click(chromedp.CSS(`input[name="permissions"][value="usage.read"]`)),
		chromedp.Click(chromedp.CSS(`input[name="permissions"][value="accounts.read"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="create-root-key"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-root-key"]`)),
	)
	secret := br.Text(`[data-testid="new-root-key"]`)
	if _, err := keys.Root.Parse(secret); err != nil {
		t.Fatalf("the page shows %q, not a root key", secret)
	}
	if got := br.Text(`[data-testid="copy-warning"]`); !strings.Contains(got, "You will not see it again") {
		t.Errorf("warning %q", got)
	}
	if p := br.Path(); p != "/admin/root-keys" {
		t.Errorf("after the create the address is %s", p)
	}
	br.Do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-testid="root-key-row"]`)))
	if n := br.Count(`[data-testid="new-root-key"]`); n != 0 {
		t.Error("a reload shows the key again")
	}
	if n := br.Count(`[data-testid="root-key-row"]`); n != 1 {
		t.Fatalf("%d rows after one create", n)
	}
	if got := br.Text(`[data-testid="root-key-permissions"]`); got != "accounts.read usage.read" {
		t.Errorf("listed permissions %q", got)
	}

	ctx := context.Background()
	db, err := store.Open(ctx, env["KEYHOLD_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc, _ := rootkey.NewService(rootkey.Config{Store: db})
	if k, err := svc.Authenticate(ctx, secret); err != nil || k.Name != "Billing job" {
		t.Fatalf("Authenticate = %+v, %v", k, err)
	}

	br.Do("revoke it",
		chromedp.Click(chromedp.CSS(`[data-testid="root-key-revoke"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="root-key-revoked"]`)),
	)
	if q := <-asked; !strings.HasPrefix(q, "confirm: ") || !strings.Contains(q, "Billing job") {
		t.Errorf("revoking asked %q, want a confirm naming the key", q)
	}
	if _, err := svc.Authenticate(ctx, secret); keyhold.ErrorCode(err) != keyhold.EUNAUTHORIZED {
		t.Errorf("after the revoke: %v, want EUNAUTHORIZED", err)
	}
	br.CheckConsole()
}
