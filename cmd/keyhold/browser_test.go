package main

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
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
	br := &tab{t: t, ctx: testenv.Chromium(t), app: a}
	messages := chromedp.Console(br.ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// A failed request (a 401 after a wrong password) is the
			// server's answer, which the tests check themselves.
			if (m.Type == chromedp.ConsoleError && m.Source != "network") || m.IsException() {
				br.mu.Lock()
				br.console = append(br.console, m)
				br.mu.Unlock()
			}
		}
	}()
	return br
}

// Do runs steps, failing the test with what for context.
func (br *tab) Do(what string, steps ...chromedp.Action[chromedp.Void]) {
	br.t.Helper()
	if err := chromedp.Do(br.ctx, steps...); err != nil {
		br.t.Fatalf("%s: %v (page %s)", what, err, br.location())
	}
}

// LeftApp waits until a navigation away from the app (to Stripe, which
// fails here for want of a network) has committed its page, before the
// test navigates again: a navigation started while the failing one is
// still committing its error page is aborted (net::ERR_ABORTED). Should
// the tab still be on the app after 20 s, the pending navigation is
// stopped instead.
func (br *tab) LeftApp() {
	br.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		state, err := chromedp.Run(br.ctx, chromedp.Evaluate[string](`location.href + " " + document.readyState`))
		if err != nil {
			br.t.Fatalf("waiting to leave the app: %v", err)
		}
		href, ready, _ := strings.Cut(state, " ")
		if !strings.HasPrefix(href, br.app.URL+"/") && ready == "complete" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := chromedp.Call(br.ctx, page.StopLoading, cdp.Empty{}); err != nil {
		br.t.Fatalf("stopping the navigation away from the app: %v", err)
	}
}

// Text returns the visible text of the first element matching css.
func (br *tab) Text(css string) string {
	br.t.Helper()
	s, err := chromedp.Run(br.ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		br.t.Fatalf("reading %s: %v (page %s)", css, err, br.location())
	}
	return strings.Join(strings.Fields(s), " ")
}

// Count returns how many elements match css.
func (br *tab) Count(css string) int {
	br.t.Helper()
	n, err := chromedp.Run(br.ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(css)+`).length`))
	if err != nil {
		br.t.Fatalf("counting %s: %v", css, err)
	}
	return n
}

// Path returns the path of the page's address.
func (br *tab) Path() string {
	br.t.Helper()
	loc := br.location()
	u, err := url.Parse(loc)
	if err != nil || !strings.HasPrefix(loc, br.app.URL+"/") {
		br.t.Fatalf("the tab is at %q, not on %s", loc, br.app.URL)
	}
	return u.Path
}

func (br *tab) location() string {
	loc, err := chromedp.Run(br.ctx, chromedp.Location())
	if err != nil {
		return "(unknown: " + err.Error() + ")"
	}
	return loc
}

// MustLogin signs email up over HTTP and gives the tab its session cookie,
// as a browser that logged in would have: the tests that are not about
// logging in start here.
func (br *tab) MustLogin(email string) {
	br.t.Helper()
	c := br.app.Client(br.t)
	c.MustSignup(email)
	ck := c.SessionCookie()
	if ck == nil {
		br.t.Fatal("no session cookie after sign-up")
	}
	httpOnly := true
	_, err := chromedp.Call(br.ctx, network.SetCookie, network.SetCookieParams{
		Name: ck.Name, Value: ck.Value, URL: br.app.URL + "/", Path: "/", HTTPOnly: &httpOnly,
		SameSite: network.CookieSameSiteLax,
	})
	if err != nil {
		br.t.Fatalf("setting the session cookie: %v", err)
	}
}

// CheckConsole fails the test when a page reported an error.
func (br *tab) CheckConsole() {
	br.t.Helper()
	br.mu.Lock()
	defer br.mu.Unlock()
	for _, m := range br.console {
		br.t.Errorf("console %s on %s: %s", m.Type, m.URL, m.Text)
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
	br := MustTab(t, a)
	const email = "ada@example.com"

	br.Do("sign up",
		chromedp.Navigate(a.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/signup"]`)),
		chromedp.SendKeys(chromedp.CSS(`form[action="/signup"] input[name="email"]`), email),
		chromedp.SendKeys(chromedp.CSS(`form[action="/signup"] input[name="password"]`), testPassword),
		chromedp.Click(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="empty-state"]`)),
	)
	if got := br.Path(); got != "/dashboard" {
		t.Errorf("after sign-up the tab is at %s, want /dashboard", got)
	}
	if got := br.Text(`[data-testid="empty-state"]`); !strings.Contains(got, "No API keys yet") {
		t.Errorf("empty state says %q", got)
	}
	if got := br.Text(`[role="alert"]`); !strings.Contains(got, "Welcome") {
		t.Errorf("after sign-up the alert says %q, want a welcome", got)
	}
	if got := br.Text(`[data-testid="account-email"]`); got != email {
		t.Errorf("the header shows %q, want %q", got, email)
	}

	br.Do("log out",
		chromedp.Click(chromedp.CSS(`[data-testid="logout"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
	)
	if got := br.Path(); got != "/login" {
		t.Errorf("after log-out the tab is at %s, want /login", got)
	}
	if got := br.Text(`[role="alert"]`); !strings.Contains(got, "logged out") {
		t.Errorf("after log-out the alert says %q", got)
	}
	// The session is over: the dashboard sends the tab back to log in.
	br.Do("open the dashboard logged out",
		chromedp.Navigate(a.URL+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
	)

	br.Do("log in",
		chromedp.SendKeys(chromedp.CSS(`form[action="/login"] input[name="email"]`), email),
		chromedp.SendKeys(chromedp.CSS(`form[action="/login"] input[name="password"]`), testPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="empty-state"]`)),
	)
	if got := br.Path(); got != "/dashboard" {
		t.Errorf("after log-in the tab is at %s, want /dashboard", got)
	}
	br.CheckConsole()
}

// TestBrowserLoginError checks that a wrong password keeps the user on the
// form with a message and the email they typed.
func TestBrowserLoginError(t *testing.T) {
	t.Parallel()
	a := MustRun(t, nil)
	a.Client(t).MustSignup("ada@example.com")
	br := MustTab(t, a)
	br.Do("log in with a wrong password",
		chromedp.Navigate(a.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "not the password"),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="form-error"]`)),
	)
	if got := br.Text(`[role="alert"]`); got != "Incorrect email or password." {
		t.Errorf("alert = %q, want %q", got, "Incorrect email or password.")
	}
	if v, err := chromedp.Run(br.ctx, chromedp.Value(chromedp.CSS(`input[name="email"]`))); err != nil || v != "ada@example.com" {
		t.Errorf("email field = %q, %v; want the email typed", v, err)
	}
	br.CheckConsole()
}

// TestBrowserKeyShownOnceAndRevoked creates a key, checks that its secret
// is shown once and that a reload neither shows it again nor creates
// another key, then revokes it through the confirm dialog.
func TestBrowserKeyShownOnceAndRevoked(t *testing.T) {
	t.Parallel()
	a := MustRun(t, nil)
	br := MustTab(t, a)
	br.MustLogin("ada@example.com")

	br.Do("create a key",
		chromedp.Navigate(a.URL+"/keys/new"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/keys"] input[name="name"]`), "Production backend"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/keys"] input[name="scopes"]`), "read, write"),
		chromedp.Click(chromedp.CSS(`form[action="/keys"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-key"]`)),
	)
	secret := br.Text(`[data-testid="new-key"]`)
	if !strings.HasPrefix(secret, "kh_live_") || len(secret) != 46 {
		t.Errorf("new key = %q (%d characters), want kh_live_ and 46 characters", secret, len(secret))
	}
	if got := br.Text(`[data-testid="new-key-curl"], #new-key-curl`); !strings.Contains(got, secret) || !strings.Contains(got, "/v1/verify") {
		t.Errorf("the curl call does not carry the key to /v1/verify: %q", got)
	}
	if ans := verifyKey(t, a, secret); ans.Status != 200 || ans.Code != "VALID" {
		t.Errorf("the new key verifies as %d %s, want 200 VALID", ans.Status, ans.Code)
	}
	// The page answers a POST and replaces its address with the key's.
	path := br.Path()
	id, ok := strings.CutPrefix(path, "/keys/")
	if !ok || id == "" || strings.Contains(id, "/") {
		t.Fatalf("the key-created page is at %s, want /keys/{id}", path)
	}

	br.Do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-testid="revoke-form"]`)))
	if got := br.Path(); got != "/keys/"+id {
		t.Errorf("after the reload the tab is at %s, want /keys/%s", got, id)
	}
	if n := br.Count(`[data-testid="new-key"]`); n != 0 {
		t.Errorf("after the reload the page has %d new-key elements, want none", n)
	}
	body := br.Text(`body`)
	if strings.Contains(body, secret) {
		t.Error("the key page shows the secret")
	}
	if want := "…" + secret[len(secret)-4:]; !strings.Contains(br.Text(`[data-testid="key-display"]`), secret[len(secret)-4:]) {
		t.Errorf("the key page does not show the key as %q: %q", want, br.Text(`[data-testid="key-display"]`))
	}

	// Revoke, accepting the confirm dialog that app.js opens.
	asked := br.acceptDialogs()
	br.Do("revoke",
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
	if got := br.Text(`[role="alert"]`); !strings.Contains(got, "revoked") {
		t.Errorf("after revoking the alert says %q", got)
	}

	if ans := verifyKey(t, a, secret); ans.Status != 401 || ans.Code != "REVOKED" {
		t.Errorf("the revoked key verifies as %d %s, want 401 REVOKED", ans.Status, ans.Code)
	}

	// The list shows active keys by default (issue 12, journey 9); All
	// shows the revoked one too.
	br.Do("open the list", chromedp.Navigate(a.URL+"/keys"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="keys-none-match"]`)))
	br.Do("show all keys", chromedp.Click(chromedp.CSS(`[data-testid="key-status-filter"] a[data-value="all"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="keys-table"]`)))
	if n := br.Count(`[data-testid="key-row"]`); n != 1 {
		t.Errorf("the list has %d keys, want 1 (did the reload create another?)", n)
	}
	row := `[data-testid="key-row"][data-key-id="` + id + `"]`
	if got := br.Text(row + ` [data-testid="key-status"]`); got != "Revoked" {
		t.Errorf("the key's status is %q, want Revoked", got)
	}
	br.CheckConsole()
}

// acceptDialogs accepts every confirm() the tab opens and sends its
// message to the channel it returns.
func (br *tab) acceptDialogs() <-chan string {
	dialogs := chromedp.Events(br.ctx, page.JavascriptDialogOpening)
	asked := make(chan string, 8)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			asked <- string(ev.Type) + ": " + ev.Message
			_, _ = chromedp.Call(br.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return asked
}

// mustCreateOperator makes the operator ops@example.com (password
// testPassword) in env's database with keyhold admin create-user --admin,
// as an operator would, and returns its email.
func mustCreateOperator(t *testing.T, env map[string]string) string {
	t.Helper()
	const ops = "ops@example.com"
	if r := runCommand(t, env, testPassword+"\n", "admin", "create-user", "--email", ops, "--password-stdin", "--admin"); r.Err != nil {
		t.Fatalf("create-user: %v\n%s", r.Err, r.Stderr)
	}
	return ops
}
