package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserKeyFormShowsEveryErrorAtOnce is issue 12 journey 6 in a
// browser: a name of spaces, a bad scope and broken JSON give three
// messages from one submit, each under its field, the cursor in the
// first, the input kept, and no key.
func TestBrowserKeyFormShowsEveryErrorAtOnce(t *testing.T) {
	t.Parallel()
	a := MustRun(t, nil)
	br := MustTab(t, a)
	br.MustLogin("ada@example.com")

	form := `form[action="/keys"] `
	br.Do("submit three bad fields",
		chromedp.Navigate(a.URL+"/keys/new"),
		chromedp.SendKeys(chromedp.CSS(form+`input[name="name"]`), "   "),
		chromedp.SendKeys(chromedp.CSS(form+`input[name="scopes"]`), "read, <b>"),
		chromedp.SendKeys(chromedp.CSS(form+`textarea[name="meta"]`), `{"team": `),
		chromedp.Click(chromedp.CSS(form+`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="field-error"]`)),
	)
	if n := br.Count(form + `[data-testid="field-error"][role="alert"]`); n != 3 {
		t.Errorf("%d field messages after one submit, want 3", n)
	}
	for _, name := range []string{"name", "scopes", "meta"} {
		in := form + `[name="` + name + `"][aria-invalid="true"]`
		if br.Count(in) != 1 {
			t.Errorf("%s is not marked invalid", name)
			continue
		}
		// The message under the field is what describes it first.
		ok, err := chromedp.Run(br.ctx, chromedp.Evaluate[bool](`(() => {
			const el = document.querySelector(`+jsString(in)+`);
			const msg = document.getElementById(el.getAttribute("aria-describedby").split(" ")[0]);
			return !!msg && msg.getAttribute("role") === "alert" && msg.offsetParent !== null &&
				el.compareDocumentPosition(msg) === Node.DOCUMENT_POSITION_FOLLOWING;
		})()`))
		if err != nil || !ok {
			t.Errorf("%s: its message is not a visible alert after it (%v)", name, err)
		}
	}
	focused, err := chromedp.Run(br.ctx, chromedp.Evaluate[string](`document.activeElement.name || ""`))
	if err != nil || focused != "name" {
		t.Errorf("focus is on %q (%v), want the first invalid field", focused, err)
	}
	if got, _ := chromedp.Run(br.ctx, chromedp.Value(chromedp.CSS(form+`input[name="scopes"]`))); got != "read, <b>" {
		t.Errorf("scopes = %q, want the input kept", got)
	}
	br.Do("open the list", chromedp.Navigate(a.URL+"/keys"), chromedp.WaitReady(chromedp.CSS(`main`)))
	if n := br.Count(`[data-testid="key-row"]`); n != 0 {
		t.Errorf("%d keys after the refused form, want none", n)
	}
	br.CheckConsole()
}

// TestBrowserRotateAndExpireOldSecret is journey 7: rotation asks first,
// keeps the old secret a day unless told otherwise, the key page says
// until when, and "Expire it now" stops it at once.
func TestBrowserRotateAndExpireOldSecret(t *testing.T) {
	t.Parallel()
	a := MustRun(t, nil)
	br := MustTab(t, a)
	br.MustLogin("ada@example.com")
	asked := br.acceptDialogs()

	br.Do("create a key with a scope",
		chromedp.Navigate(a.URL+"/keys/new"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/keys"] input[name="name"]`), "First"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/keys"] input[name="scopes"]`), "read"),
		chromedp.Click(chromedp.CSS(`form[action="/keys"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-key"]`)),
	)
	br.Do("create a key with the suggested scope",
		chromedp.Navigate(a.URL+"/keys/new"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/keys"] input[name="name"]`), "Production"),
		chromedp.Click(chromedp.CSS(`[data-scope-add="read"]`)),
		chromedp.Click(chromedp.CSS(`form[action="/keys"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-key"]`)),
	)
	old := br.Text(`[data-testid="new-key"]`)
	if ans := verifyKey(t, a, old); ans.Status != 200 || ans.Code != "VALID" || strings.Join(ans.Scopes, ",") != "read" {
		t.Fatalf("the new key verifies as %d %s with scopes %v, want VALID with the suggested scope read", ans.Status, ans.Code, ans.Scopes)
	}
	id := strings.TrimPrefix(br.Path(), "/keys/")
	br.Do("open the key", chromedp.Navigate(a.URL+"/keys/"+id), chromedp.WaitVisible(chromedp.CSS(`[data-testid="rotate-form"]`)))
	if got, _ := chromedp.Run(br.ctx, chromedp.Value(chromedp.CSS(`select[name="grace"]`))); got != "24h" {
		t.Errorf("the rotate form pre-selects %q, want 24h", got)
	}
	if got := br.Text(`[data-testid="key-id"]`); got != id {
		t.Errorf("the key page shows the key id %q, want %q", got, id)
	}
	br.Do("rotate",
		chromedp.Click(chromedp.CSS(`[data-testid="rotate-form"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-key"]`)),
	)
	if q := <-asked; !strings.HasPrefix(q, "confirm: ") || !strings.Contains(q, "Production") {
		t.Errorf("rotating asked %q, want a confirm naming the key", q)
	}
	current := br.Text(`[data-testid="new-key"]`)
	if ans := verifyKey(t, a, old); ans.Code != "VALID" {
		t.Errorf("the old secret in its day of grace answers %s", ans.Code)
	}
	br.Do("open the key again", chromedp.Navigate(a.URL+"/keys/"+id), chromedp.WaitVisible(chromedp.CSS(`[data-testid="old-secret"]`)))
	if got := br.Text(`[data-testid="old-secret"]`); !strings.Contains(got, "works until") || !strings.Contains(got, "in 23 hours") {
		t.Errorf("the key page says %q, want until when the previous secret works", got)
	}
	br.Do("expire it now",
		chromedp.Click(chromedp.CSS(`[data-testid="old-secret"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)),
	)
	if q := <-asked; !strings.Contains(q, "EXPIRED") {
		t.Errorf("expire now asked %q", q)
	}
	if n := br.Count(`[data-testid="old-secret"]`); n != 0 {
		t.Error("the page still offers to expire the previous secret")
	}
	if ans := verifyKey(t, a, old); ans.Status != 401 || ans.Code != "EXPIRED" {
		t.Errorf("the previous secret after expire now: %d %s, want 401 EXPIRED", ans.Status, ans.Code)
	}
	if ans := verifyKey(t, a, current); ans.Code != "VALID" {
		t.Errorf("the current secret answers %s", ans.Code)
	}
	br.CheckConsole()
}
