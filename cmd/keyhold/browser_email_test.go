package main

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keyhold/keyhold/internal/testenv"
)

// mailedPath waits for the newest mail to address with a link to prefix
// and returns the link's path (the test server's KEYHOLD_BASE_URL has no
// port, so the tab goes to the same path on the app's own address).
func mailedPath(t *testing.T, mp *testenv.Mailpit, address, prefix string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	re := regexp.MustCompile(`https?://\S+` + regexp.QuoteMeta(prefix) + `[A-Za-z0-9_-]{43}`)
	for {
		for _, s := range mp.MessagesTo(t, address) {
			if link := re.FindString(mp.Message(t, s.ID).Text); link != "" {
				u, err := url.Parse(link)
				if err != nil {
					t.Fatal(err)
				}
				return u.Path
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no mail to %s with a link to %s", address, prefix)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestBrowserForgotPassword: forgot password from the login page → the
// mail in mailpit → a new password through its link → the session from
// before is gone and the new password logs in.
func TestBrowserForgotPassword(t *testing.T) {
	t.Parallel()
	mp := testenv.SharedMailpit(t)
	a := MustRun(t, map[string]string{"KEYHOLD_SMTP_URL": mp.SMTPURL()})
	const email = "forgetful@example.com"
	const newPassword = "a new passphrase for forgetful"
	before := MustTab(t, a)
	before.MustLogin(email)
	before.Do("open the dashboard", chromedp.Navigate(a.URL+"/dashboard"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="empty-state"]`)))

	br := MustTab(t, a)
	br.Do("ask for a reset link",
		chromedp.Navigate(a.URL+"/login"),
		chromedp.Click(chromedp.CSS(`[data-testid="forgot-link"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/password/forgot"]`)),
		chromedp.SendKeys(chromedp.CSS(`form[action="/password/forgot"] input[name="email"]`), email),
		chromedp.Click(chromedp.CSS(`form[action="/password/forgot"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="forgot-sent"]`)),
	)
	path := mailedPath(t, mp, email, "/password/reset/")
	br.Do("choose a new password",
		chromedp.Navigate(a.URL+path),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="reset-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="reset-form"] input[name="password"]`), newPassword),
		chromedp.Click(chromedp.CSS(`[data-testid="reset-form"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
	)
	if got := br.Text(`[role="alert"]`); !strings.Contains(got, "password has been changed") {
		t.Errorf("after the reset the alert says %q", got)
	}
	before.Do("the old session is gone",
		chromedp.Navigate(a.URL+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
	)
	br.Do("log in with the new password",
		chromedp.SendKeys(chromedp.CSS(`form[action="/login"] input[name="email"]`), email),
		chromedp.SendKeys(chromedp.CSS(`form[action="/login"] input[name="password"]`), newPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="empty-state"]`)),
	)
	if got := br.Path(); got != "/dashboard" {
		t.Errorf("after log-in the tab is at %s", got)
	}
	br.Do("the link works once",
		chromedp.Navigate(a.URL+path),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="reset-dead"]`)),
	)
	br.CheckConsole()
	before.CheckConsole()
}

// TestBrowserVerifyEmail: sign up → the verification mail → its link →
// verified, and the banner is gone.
func TestBrowserVerifyEmail(t *testing.T) {
	t.Parallel()
	mp := testenv.SharedMailpit(t)
	a := MustRun(t, map[string]string{"KEYHOLD_SMTP_URL": mp.SMTPURL()})
	const email = "verifier@example.com"
	br := MustTab(t, a)
	br.Do("sign up",
		chromedp.Navigate(a.URL+"/signup"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/signup"] input[name="email"]`), email),
		chromedp.SendKeys(chromedp.CSS(`form[action="/signup"] input[name="password"]`), testPassword),
		chromedp.Click(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="verify-banner"]`)),
	)
	if got := br.Text(`[data-testid="verify-banner"]`); !strings.Contains(got, email) {
		t.Errorf("the banner says %q", got)
	}
	path := mailedPath(t, mp, email, "/email/verify/")
	br.Do("follow the link and confirm",
		chromedp.Navigate(a.URL+path),
		chromedp.Click(chromedp.CSS(`[data-testid="token-confirm"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="empty-state"]`)),
	)
	if n := br.Count(`[data-testid="verify-banner"]`); n != 0 {
		t.Error("the banner is still there after verifying")
	}
	if got := br.Text(`[role="alert"]`); !strings.Contains(got, "is verified") {
		t.Errorf("after verifying the alert says %q", got)
	}
	br.Do("the account page says verified",
		chromedp.Navigate(a.URL+"/account"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="email-verified"]`)),
	)
	br.CheckConsole()
}
