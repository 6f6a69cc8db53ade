package main

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/keyhold/keyhold/internal/testenv"
)

// tab is a Chromium tab of one test, pointed at one Keyhold server.
type tab struct {
	t   *testing.T
	ctx context.Context
	app *app

	mu      sync.Mutex
	console []chromedp.ConsoleMessage // errors and exceptions of the pages
}

// MustTab opens a tab with cookies of its own for a, and records what its
// pages report as console errors: a CSP violation or a script error shows
// up there.
func MustTab(t *testing.T, a *app) *tab {
	t.Helper()
	tb := &tab{t: t, ctx: testenv.Chromium(t), app: a}
	messages := chromedp.Console(tb.ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// A failed request (a 401 after a wrong password) is the
			// server's answer, which the tests check themselves.
			if (m.Type == chromedp.ConsoleError && m.Source != "network") || m.IsException() {
				tb.mu.Lock()
				tb.console = append(tb.console, m)
				tb.mu.Unlock()
			}
		}
	}()
	return tb
}

// Do runs steps, failing the test with what for context.
func (tb *tab) Do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %v (page %s)", what, err, tb.location())
	}
}

// Text returns the visible text of the first element matching css.
func (tb *tab) Text(css string) string {
	tb.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		tb.t.Fatalf("reading %s: %v (page %s)", css, err, tb.location())
	}
	return strings.Join(strings.Fields(s), " ")
}

// Count returns how many elements match css.
func (tb *tab) Count(css string) int {
	tb.t.Helper()
	n, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(css)+`).length`))
	if err != nil {
		tb.t.Fatalf("counting %s: %v", css, err)
	}
	return n
}

// Path returns the path of the page's address.
func (tb *tab) Path() string {
	tb.t.Helper()
	loc := tb.location()
	u, err := url.Parse(loc)
	if err != nil || !strings.HasPrefix(loc, tb.app.URL+"/") {
		tb.t.Fatalf("the tab is at %q, not on %s", loc, tb.app.URL)
	}
	return u.Path
}

func (tb *tab) location() string {
	loc, err := chromedp.Run(tb.ctx, chromedp.Location())
	if err != nil {
		return "(unknown: " + err.Error() + ")"
	}
	return loc
}

// MustLogin signs email up over HTTP and gives the tab its session cookie,
// as a browser that logged in would have: the tests that are not about
// logging in start here.
func (tb *tab) MustLogin(email string) {
	tb.t.Helper()
	c := tb.app.Client(tb.t)
	c.MustSignup(email)
	ck := c.SessionCookie()
	if ck == nil {
		tb.t.Fatal("no session cookie after sign-up")
	}
	httpOnly := true
	_, err := chromedp.Call(tb.ctx, network.SetCookie, network.SetCookieParams{
		Name: ck.Name, Value: ck.Value, URL: tb.app.URL + "/", Path: "/", HTTPOnly: &httpOnly,
		SameSite: network.CookieSameSiteLax,
	})
	if err != nil {
		tb.t.Fatalf("setting the session cookie: %v", err)
	}
}

// CheckConsole fails the test when a page reported an error.
func (tb *tab) CheckConsole() {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, m := range tb.console {
		tb.t.Errorf("console %s on %s: %s", m.Type, m.URL, m.Text)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// TestBrowserSignupLogoutLogin is the journey of a new developer, clicked
// through: sign up, see the empty dashboard, log out, log back in.
func TestBrowserSignupLogoutLogin(t *testing.T) {
	t.Parallel()
	a := MustRun(t, nil)
	tb := MustTab(t, a)
	const email = "ada@example.com"

	tb.Do("sign up",
		chromedp.Navigate(a.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/signup"]`)),
		chromedp.SendKeys(chromedp.CSS(`form[action="/signup"] input[name="email"]`), email),
		chromedp.SendKeys(chromedp.CSS(`form[action="/signup"] input[name="password"]`), testPassword),
		chromedp.Click(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="empty-state"]`)),
	)
	if got := tb.Path(); got != "/dashboard" {
		t.Errorf("after sign-up the tab is at %s, want /dashboard", got)
	}
	if got := tb.Text(`[data-testid="empty-state"]`); !strings.Contains(got, "No API keys yet") {
		t.Errorf("empty state says %q", got)
	}
	if got := tb.Text(`[role="alert"]`); !strings.Contains(got, "Welcome") {
		t.Errorf("after sign-up the alert says %q, want a welcome", got)
	}
	if got := tb.Text(`[data-testid="account-email"]`); got != email {
		t.Errorf("the header shows %q, want %q", got, email)
	}

	tb.Do("log out",
		chromedp.Click(chromedp.CSS(`[data-testid="logout"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
	)
	if got := tb.Path(); got != "/login" {
		t.Errorf("after log-out the tab is at %s, want /login", got)
	}
	if got := tb.Text(`[role="alert"]`); !strings.Contains(got, "logged out") {
		t.Errorf("after log-out the alert says %q", got)
	}
	// The session is over: the dashboard sends the tab back to log in.
	tb.Do("open the dashboard logged out",
		chromedp.Navigate(a.URL+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
	)

	tb.Do("log in",
		chromedp.SendKeys(chromedp.CSS(`form[action="/login"] input[name="email"]`), email),
		chromedp.SendKeys(chromedp.CSS(`form[action="/login"] input[name="password"]`), testPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="empty-state"]`)),
	)
	if got := tb.Path(); got != "/dashboard" {
		t.Errorf("after log-in the tab is at %s, want /dashboard", got)
	}
	tb.CheckConsole()
}

// TestBrowserLoginError checks that a wrong password keeps the user on the
// form with a message and the email they typed.
func TestBrowserLoginError(t *testing.T) {
	t.Parallel()
	a := MustRun(t, nil)
	a.Client(t).MustSignup("ada@example.com")
	tb := MustTab(t, a)
	tb.Do("log in with a wrong password",
		chromedp.Navigate(a.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "not the password"),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="form-error"]`)),
	)
	if got := tb.Text(`[role="alert"]`); got != "Incorrect email or password." {
		t.Errorf("alert = %q, want %q", got, "Incorrect email or password.")
	}
	if v, err := chromedp.Run(tb.ctx, chromedp.Value(chromedp.CSS(`input[name="email"]`))); err != nil || v != "ada@example.com" {
		t.Errorf("email field = %q, %v; want the email typed", v, err)
	}
	tb.CheckConsole()
}

// TestBrowserKeyShownOnceAndRevoked creates a key, checks that its secret
// is shown once and that a reload neither shows it again nor creates
// another key, then revokes it through the confirm dialog.
func TestBrowserKeyShownOnceAndRevoked(t *testing.T) {
	t.Parallel()
	a := MustRun(t, nil)
	tb := MustTab(t, a)
	tb.MustLogin("ada@example.com")

	tb.Do("create a key",
		chromedp.Navigate(a.URL+"/keys/new"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/keys"] input[name="name"]`), "Production backend"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/keys"] input[name="scopes"]`), "read, write"),
		chromedp.Click(chromedp.CSS(`form[action="/keys"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-key"]`)),
	)
	secret := tb.Text(`[data-testid="new-key"]`)
	if !strings.HasPrefix(secret, "kh_live_") || len(secret) != 46 {
		t.Errorf("new key = %q (%d characters), want kh_live_ and 46 characters", secret, len(secret))
	}
	if got := tb.Text(`[data-testid="new-key-curl"], #new-key-curl`); !strings.Contains(got, secret) || !strings.Contains(got, "/v1/verify") {
		t.Errorf("the curl call does not carry the key to /v1/verify: %q", got)
	}
	// The page answers a POST and replaces its address with the key's.
	path := tb.Path()
	id, ok := strings.CutPrefix(path, "/keys/")
	if !ok || id == "" || strings.Contains(id, "/") {
		t.Fatalf("the key-created page is at %s, want /keys/{id}", path)
	}

	tb.Do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-testid="revoke-form"]`)))
	if got := tb.Path(); got != "/keys/"+id {
		t.Errorf("after the reload the tab is at %s, want /keys/%s", got, id)
	}
	if n := tb.Count(`[data-testid="new-key"]`); n != 0 {
		t.Errorf("after the reload the page has %d new-key elements, want none", n)
	}
	body := tb.Text(`body`)
	if strings.Contains(body, secret) {
		t.Error("the key page shows the secret")
	}
	if want := "…" + secret[len(secret)-4:]; !strings.Contains(tb.Text(`[data-testid="key-display"]`), secret[len(secret)-4:]) {
		t.Errorf("the key page does not show the key as %q: %q", want, tb.Text(`[data-testid="key-display"]`))
	}

	// Revoke, accepting the confirm dialog that app.js opens.
	dialogs := chromedp.Events(tb.ctx, page.JavascriptDialogOpening)
	asked := make(chan string, 1)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			asked <- string(ev.Type) + ": " + ev.Message
			_, _ = chromedp.Call(tb.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			return
		}
	}()
	tb.Do("revoke",
		chromedp.Click(chromedp.CSS(`[data-testid="revoke-form"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="revoked-on"]`)),
	)
	select {
	case q := <-asked:
		if !strings.HasPrefix(q, "confirm: ") || !strings.Contains(q, "Production backend") {
			t.Errorf("the revoke dialog was %q, want a confirm that names the key", q)
		}
	default:
		t.Error("revoking asked no confirmation")
	}
	if got := tb.Text(`[role="alert"]`); !strings.Contains(got, "revoked") {
		t.Errorf("after revoking the alert says %q", got)
	}

	tb.Do("open the list", chromedp.Navigate(a.URL+"/keys"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="keys-table"]`)))
	if n := tb.Count(`[data-testid="key-row"]`); n != 1 {
		t.Errorf("the list has %d keys, want 1 (did the reload create another?)", n)
	}
	row := `[data-testid="key-row"][data-key-id="` + id + `"]`
	if got := tb.Text(row + ` [data-testid="key-status"]`); got != "Revoked" {
		t.Errorf("the key's status is %q, want Revoked", got)
	}
	tb.CheckConsole()
}
