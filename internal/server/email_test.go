package server_test

import (
	"context"
	"log/slog"
	"net/http"
	netmail "net/mail"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/jobs"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/mail"
	"github.com/keyhold/keyhold/internal/server"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/testenv"
)

// withEmail turns email on: a River queue on the test's database whose
// worker sends to a mailpit of the test's own, returned through mp.
// requireVerified also sets KEYHOLD_REQUIRE_VERIFIED_EMAIL.
func withEmail(tb testing.TB, mp **testenv.Mailpit, requireVerified bool) option {
	return func(c *server.Config, db *store.DB) {
		*mp = testenv.StartMailpit(tb, 0)
		smtp := mail.Server{Host: "127.0.0.1", Port: (*mp).SMTPPort, Security: mail.Plain}
		w, err := mail.NewWorker(mail.NewSMTP(smtp, testFrom), c.Secret, c.BaseURL, slog.New(slog.DiscardHandler))
		if err != nil {
			tb.Fatal(err)
		}
		workers := river.NewWorkers()
		mail.Register(workers, w)
		q, err := jobs.New(context.Background(), jobs.Config{DB: db.SQL(), Workers: workers, Logger: slog.New(slog.DiscardHandler), PollInterval: 100 * time.Millisecond})
		if err != nil {
			tb.Fatal(err)
		}
		if err := q.Start(context.Background()); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = q.Stop(ctx)
		})
		o, err := mail.NewOutbox(q, c.Secret)
		if err != nil {
			tb.Fatal(err)
		}
		db.SetOutbox(o)
		svc, err := auth.NewService(auth.Config{Store: db, Attempts: db, Secret: c.Secret, Email: db, EmailEnabled: true, CheapHashing: true})
		if err != nil {
			tb.Fatal(err)
		}
		c.Auth = svc
		if requireVerified {
			ks, err := keys.NewService(keys.Config{Store: db, Plans: c.Plans, Verified: svc.EmailVerified})
			if err != nil {
				tb.Fatal(err)
			}
			ks.Subscribe(func(e keys.Event) { c.Verifier.InvalidateKey(e.KeyID) })
			c.Keys = ks
		}
	}
}

var testFrom = &netmail.Address{Name: "Keyhold", Address: "keyhold@localhost"}

// linkIn waits until n mails to address have arrived and returns the token
// of the link to path in the newest mail that has one (mails are sent by
// several workers at once, so the mail of another link may arrive later).
func linkIn(t *testing.T, mp *testenv.Mailpit, address, path string, n int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	re := regexp.MustCompile(regexp.QuoteMeta("http://localhost:8080"+path) + `([A-Za-z0-9_-]{43})`)
	for _, s := range mp.WaitMessagesTo(ctx, t, address, n) {
		if match := re.FindStringSubmatch(mp.Message(t, s.ID).Text); match != nil {
			return match[1]
		}
	}
	t.Fatalf("no link to %s in the mails to %s", path, address)
	return ""
}

// TestForgotPasswordSameAnswer: a known and an unknown address get the
// same page; only the known one gets a mail.
func TestForgotPasswordSameAnswer(t *testing.T) {
	var mp *testenv.Mailpit
	h := MustServer(t, withEmail(t, &mp, false))
	h.Browser().MustSignup("ada@example.com")
	var bodies []string
	for _, email := range []string{"ada@example.com", "nobody@example.com"} {
		p := h.Browser().Submit("/password/forgot", "/password/forgot", url.Values{"email": {email}})
		if p.StatusCode != http.StatusOK || p.Doc.Find(`[data-testid="forgot-sent"]`).Length() != 1 {
			t.Fatalf("%s: status %d\n%s", email, p.StatusCode, p.Body)
		}
		text := p.Doc.Find(`[data-testid="forgot-sent"]`).Text()
		bodies = append(bodies, strings.ReplaceAll(text, email, "EMAIL"))
	}
	if bodies[0] != bodies[1] {
		t.Errorf("the answers differ:\n%s\n%s", bodies[0], bodies[1])
	}
	linkIn(t, mp, "ada@example.com", "/password/reset/", 2) // the verification mail, then the reset
	if got := mp.MessagesTo(t, "nobody@example.com"); len(got) != 0 {
		t.Errorf("%d mails to an address without an account", len(got))
	}
	if !strings.Contains(h.Browser().Get("/login").Body, `href="/password/forgot"`) {
		t.Error("the login page does not link to /password/forgot")
	}
}

// TestForgotPasswordRefusals: bad input and throttling answer with a clear
// error and send nothing.
func TestForgotPasswordRefusals(t *testing.T) {
	var mp *testenv.Mailpit
	h := MustServer(t, withEmail(t, &mp, false))
	h.Browser().MustSignup("ada@example.com")
	b := h.Browser()
	p := b.Submit("/password/forgot", "/password/forgot", url.Values{"email": {"not an email"}})
	if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(alert(p), "valid email") {
		t.Errorf("bad email: %d %q", p.StatusCode, alert(p))
	}
	// Per email: three requests an hour, whoever asks.
	for i := range 4 {
		p = h.Browser().Submit("/password/forgot", "/password/forgot", url.Values{"email": {"ada@example.com"}})
		if i < 3 && p.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, p.StatusCode)
		}
	}
	if p.StatusCode != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" || !strings.Contains(alert(p), "Too many reset requests") {
		t.Errorf("4th request for one email: %d, Retry-After %q, %q", p.StatusCode, p.Header.Get("Retry-After"), alert(p))
	}
	// Per client address: ten an hour over any emails (three went above).
	for i := range 8 {
		p = b.Submit("/password/forgot", "/password/forgot", url.Values{"email": {"other" + string(rune('a'+i)) + "@example.com"}})
	}
	if p.StatusCode != http.StatusTooManyRequests {
		t.Errorf("11th request from one address: %d", p.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if n := len(mp.WaitMessagesTo(ctx, t, "ada@example.com", 4)); n != 4 { // verification + three resets
		t.Errorf("%d mails to ada", n)
	}
}

// TestForgotPasswordEmailOff: without SMTP the page says to ask the
// operator, and a POST changes nothing.
func TestForgotPasswordEmailOff(t *testing.T) {
	h := MustServer(t)
	h.Browser().MustSignup("ada@example.com")
	p := h.Browser().Get("/password/forgot")
	if p.StatusCode != http.StatusOK || !strings.Contains(p.Doc.Find(`[data-testid="forgot-ask-operator"]`).Text(), "Ask its operator") {
		t.Fatalf("GET: %d\n%s", p.StatusCode, p.Body)
	}
	if p.Doc.Find(`form[action="/password/forgot"]`).Length() != 0 {
		t.Error("the form is shown though nothing can be mailed")
	}
	csrf := h.Browser()
	tok, _ := csrf.Get("/login").Doc.Find(`input[name="_csrf"]`).Attr("value")
	p = csrf.Post("/password/forgot", url.Values{"email": {"ada@example.com"}, "_csrf": {tok}})
	if p.StatusCode != http.StatusServiceUnavailable || p.Doc.Find(`[data-testid="forgot-ask-operator"]`).Length() != 1 {
		t.Errorf("POST: %d", p.StatusCode)
	}
	var n int
	if err := h.DB.SQL().QueryRow(`SELECT COUNT(*) FROM email_tokens`).Scan(&n); err != nil || n != 0 {
		t.Errorf("tokens: %d %v", n, err)
	}
}

// TestResetPassword: the mailed link sets a new password once, ends every
// session, and the new password works.
func TestResetPassword(t *testing.T) {
	var mp *testenv.Mailpit
	h := MustServer(t, withEmail(t, &mp, false))
	signedIn := h.Browser()
	signedIn.MustSignup("ada@example.com")
	h.Browser().Submit("/password/forgot", "/password/forgot", url.Values{"email": {"ada@example.com"}})
	token := linkIn(t, mp, "ada@example.com", "/password/reset/", 2)

	b := h.Browser()
	path := "/password/reset/" + token
	p := b.Submit(path, path, url.Values{"password": {"short"}})
	if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(alert(p), "at least 10") {
		t.Fatalf("short password: %d %q", p.StatusCode, alert(p))
	}
	p = b.Submit(path, path, url.Values{"password": {"a brand new passphrase"}})
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/login" {
		t.Fatalf("reset: %d %s", p.StatusCode, p.Body)
	}
	if p := signedIn.Get("/dashboard"); p.StatusCode != http.StatusSeeOther {
		t.Errorf("the session from before the reset still works: %d", p.StatusCode)
	}
	if p := h.Browser().Submit("/login", "/login", url.Values{"email": {"ada@example.com"}, "password": {password}}); p.StatusCode == http.StatusSeeOther {
		t.Error("the old password still works")
	}
	if p := h.Browser().Submit("/login", "/login", url.Values{"email": {"ada@example.com"}, "password": {"a brand new passphrase"}}); p.StatusCode != http.StatusSeeOther {
		t.Errorf("the new password does not work: %d", p.StatusCode)
	}
	// Used: the link is dead now, on GET and POST alike.
	if p := b.Get(path); p.StatusCode != http.StatusGone || !strings.Contains(alert(p), "used already") {
		t.Errorf("reused link GET: %d %q", p.StatusCode, alert(p))
	}
	if strings.Contains(h.log.String(), token) {
		t.Error("the token is in the log")
	}
}

// TestResetLinkFailures: unknown, expired and used links each get their
// page and change nothing.
func TestResetLinkFailures(t *testing.T) {
	var mp *testenv.Mailpit
	h := MustServer(t, withEmail(t, &mp, false))
	h.Browser().MustSignup("ada@example.com")
	ctx := context.Background()
	id := accountID(t, h, "ada@example.com")
	for _, tok := range []struct{ token, expires, used string }{
		{"expiredexpiredexpiredexpiredexpiredexpired", "2000-01-01 00:00:00", ""},
		{"usedusedusedusedusedusedusedusedusedusedus", "2999-01-01 00:00:00", "2000-01-01 00:00:00"},
	} {
		var used any
		if tok.used != "" {
			used = tok.used
		}
		if _, err := h.DB.SQL().ExecContext(ctx, `INSERT INTO email_tokens (token_hash, user_id, purpose, email, created_at, expires_at, used_at) VALUES (?, ?, 'password_reset', 'ada@example.com', '2000-01-01 00:00:00', ?, ?)`,
			auth.TokenHash(tok.token), id, tok.expires, used); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, token string
		status      int
		message     string
	}{
		{"unknown", "nosuchtokennosuchtokennosuchtokennosuchtok", http.StatusNotFound, "not valid"},
		{"expired", "expiredexpiredexpiredexpiredexpiredexpired", http.StatusGone, "expired"},
		{"used", "usedusedusedusedusedusedusedusedusedusedus", http.StatusGone, "used already"},
		{"too long", strings.Repeat("x", 500), http.StatusNotFound, "not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := h.Browser()
			path := "/password/reset/" + tt.token
			p := b.Get(path)
			if p.StatusCode != tt.status || !strings.Contains(alert(p), tt.message) || p.Doc.Find(`[data-testid="reset-form"]`).Length() != 0 {
				t.Errorf("GET: %d %q", p.StatusCode, alert(p))
			}
			tok, _ := b.Get("/login").Doc.Find(`input[name="_csrf"]`).Attr("value")
			p = b.Post(path, url.Values{"password": {"a brand new passphrase"}, "_csrf": {tok}})
			if p.StatusCode != tt.status {
				t.Errorf("POST: %d %q", p.StatusCode, alert(p))
			}
		})
	}
	if p := h.Browser().Submit("/login", "/login", url.Values{"email": {"ada@example.com"}, "password": {password}}); p.StatusCode != http.StatusSeeOther {
		t.Errorf("a failed reset changed the password: %d", p.StatusCode)
	}
}

// TestVerifyEmail: the sign-up mail's link verifies the address, the banner
// goes, and "send again" is throttled.
func TestVerifyEmail(t *testing.T) {
	var mp *testenv.Mailpit
	h := MustServer(t, withEmail(t, &mp, true))
	b := h.Browser()
	b.MustSignup("ada@example.com")
	if b.Get("/dashboard").Doc.Find(`[data-testid="verify-banner"]`).Length() != 1 {
		t.Fatal("no banner for an unverified address")
	}
	// KEYHOLD_REQUIRE_VERIFIED_EMAIL: no keys yet, with a message that says why.
	p := b.Submit("/keys/new", "/keys", url.Values{"name": {"prod"}})
	if p.StatusCode != http.StatusForbidden || !strings.Contains(alert(p), "Verify your email address") {
		t.Errorf("key before verifying: %d %q", p.StatusCode, alert(p))
	}
	token := linkIn(t, mp, "ada@example.com", "/email/verify/", 1)
	path := "/email/verify/" + token
	if p := b.Get(path); p.StatusCode != http.StatusOK || p.Doc.Find(`[data-testid="token-confirm"]`).Length() != 1 {
		t.Fatalf("GET link: %d", p.StatusCode)
	}
	if h.Browser().Get(path).StatusCode != http.StatusOK {
		t.Fatal("the GET used the token: a mail scanner would have verified")
	}
	p = b.Submit(path, path, url.Values{})
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("verify: %d %s", p.StatusCode, p.Body)
	}
	if b.Get("/dashboard").Doc.Find(`[data-testid="verify-banner"]`).Length() != 0 {
		t.Error("the banner stays after verifying")
	}
	if p := b.Submit("/keys/new", "/keys", url.Values{"name": {"prod"}}); p.StatusCode != http.StatusOK {
		t.Errorf("key after verifying: %d %q", p.StatusCode, alert(p))
	}
	if p := b.Get(path); p.StatusCode != http.StatusGone {
		t.Errorf("reused verification link: %d", p.StatusCode)
	}

	// Send again: five an hour per account, then a clear refusal.
	c := h.Browser()
	c.MustSignup("bob@example.com")
	for range 5 {
		c.Submit("/dashboard", "/email/verify", url.Values{})
	}
	c.Submit("/dashboard", "/email/verify", url.Values{})
	if got := c.Get("/dashboard"); !strings.Contains(alert(got), "Too many verification emails") {
		t.Errorf("6th send again: %q", alert(got))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if n := len(mp.WaitMessagesTo(ctx, t, "bob@example.com", 6)); n != 6 { // sign-up + five
		t.Errorf("%d mails to bob", n)
	}
}

// TestChangeEmail: confirmed from the new address, notice to the old one,
// uniqueness checked again at confirm time.
func TestChangeEmail(t *testing.T) {
	var mp *testenv.Mailpit
	h := MustServer(t, withEmail(t, &mp, false))
	b := h.Browser()
	b.MustSignup("ada@example.com")
	tests := []struct {
		name, email, password string
		status                int
		message               string
	}{
		{"wrong password", "new@example.com", "wrong password!", http.StatusUnprocessableEntity, "current password is not right"},
		{"bad address", "new@", password, http.StatusUnprocessableEntity, "valid email"},
		{"same address", "ada@example.com", password, http.StatusUnprocessableEntity, "already"},
	}
	h.Browser().MustSignup("taken@example.com")
	tests = append(tests, struct {
		name, email, password string
		status                int
		message               string
	}{"taken", "taken@example.com", password, http.StatusConflict, "Another account"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := b.Submit("/account", "/account/email", url.Values{"email": {tt.email}, "current_password": {tt.password}})
			if p.StatusCode != tt.status || !strings.Contains(alert(p), tt.message) {
				t.Errorf("%d %q", p.StatusCode, alert(p))
			}
		})
	}
	p := b.Submit("/account", "/account/email", url.Values{"email": {"new@example.com"}, "current_password": {password}})
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("request: %d %q", p.StatusCode, alert(p))
	}
	token := linkIn(t, mp, "new@example.com", "/email/change/", 1)
	path := "/email/change/" + token
	p = b.Submit(path, path, url.Values{})
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirm: %d %s", p.StatusCode, alert(p))
	}
	if got := b.Get("/account").Doc.Find(`[data-testid="account-settings-email"]`).Text(); got != "new@example.com" {
		t.Errorf("email after the change: %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	notices := mp.WaitMessagesTo(ctx, t, "ada@example.com", 2) // verification, then the notice
	if notices[0].Subject != "Your Keyhold email was changed" {
		t.Errorf("newest mail to the old address: %q", notices[0].Subject)
	}
	if n := len(mp.MessagesTo(t, "new@example.com")); n != 1 {
		t.Errorf("%d mails to the new address, want the confirmation only", n)
	}

	// Another account took the address between request and confirm.
	c := h.Browser()
	c.MustSignup("carol@example.com")
	if p := c.Submit("/account", "/account/email", url.Values{"email": {"late@example.com"}, "current_password": {password}}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("carol's request: %d", p.StatusCode)
	}
	token = linkIn(t, mp, "late@example.com", "/email/change/", 1)
	h.Browser().MustSignup("late@example.com")
	path = "/email/change/" + token
	if p := c.Submit(path, path, url.Values{}); p.StatusCode != http.StatusConflict || !strings.Contains(alert(p), "Another account") {
		t.Errorf("confirm of a taken address: %d %q", p.StatusCode, alert(p))
	}
	if got := c.Get("/account").Doc.Find(`[data-testid="account-settings-email"]`).Text(); got != "carol@example.com" {
		t.Errorf("carol's email: %q", got)
	}
}

// TestAdminResetLink: an operator makes a reset link, shown once and
// audited; it works; nobody else may make one.
func TestAdminResetLink(t *testing.T) {
	h := MustServer(t) // email off: the operator's link is the way
	ops := h.MustAdmin("ops@example.com")
	h.Browser().MustSignup("ada@example.com")
	id := accountID(t, h, "ada@example.com")
	page := "/admin/users/" + id
	action := page + "/reset-link"
	p := ops.Submit(page, action, url.Values{})
	link := strings.TrimSpace(p.Doc.Find(`[data-testid="reset-link"]`).Text())
	if p.StatusCode != http.StatusOK || !strings.HasPrefix(link, "http://localhost:8080/password/reset/") {
		t.Fatalf("reset link page: %d %q", p.StatusCode, link)
	}
	if p.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", p.Header.Get("Cache-Control"))
	}
	path := strings.TrimPrefix(link, "http://localhost:8080")
	if p := h.Browser().Submit(path, path, url.Values{"password": {"set by the link 1"}}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("the operator's link: %d %q", p.StatusCode, alert(p))
	}
	// The link reached no mailbox, so using it proves no address: with
	// KEYHOLD_REQUIRE_VERIFIED_EMAIL an address nobody confirmed must not
	// become verified through the operator.
	var unverified bool
	if err := h.DB.SQL().QueryRowContext(context.Background(), `SELECT email_verified_at IS NULL FROM users WHERE id = ?`, id).Scan(&unverified); err != nil {
		t.Fatal(err)
	}
	if !unverified {
		t.Error("the operator's reset link verified the address")
	}
	// The entry is about the user, not an account: the whole log shows it.
	if !strings.Contains(ops.Get("/admin/audit").Body, "An operator made a password reset link") {
		t.Errorf("no audit entry of the reset link")
	}
	opsID := accountID(t, h, "ops@example.com")
	if e := lastUserAudit(t, h, id, audit.PasswordResetLinkMade); e == nil || e.ActorID != opsID || e.TargetID != id {
		t.Errorf("reset link audit entry = %+v, want the operator as actor and the user as target", e)
	}
	dev := h.Browser()
	dev.MustSignup("dev@example.com")
	tok, _ := dev.Get("/dashboard").Doc.Find(`input[name="_csrf"]`).Attr("value")
	if p := dev.Post(action, url.Values{"_csrf": {tok}}); p.StatusCode != http.StatusNotFound {
		t.Errorf("a non-operator made a reset link: %d", p.StatusCode)
	}
	if strings.Contains(h.log.String(), strings.TrimPrefix(path, "/password/reset/")) {
		t.Error("the token is in the log")
	}
}

// TestChangeEmailEndsOldLinks: links mailed to the old address before the
// change (here a password reset) stop working once the account moves, so
// whoever still reads the old mailbox cannot take the account back.
func TestChangeEmailEndsOldLinks(t *testing.T) {
	var mp *testenv.Mailpit
	h := MustServer(t, withEmail(t, &mp, false))
	b := h.Browser()
	b.MustSignup("ada@example.com")
	h.Browser().Submit("/password/forgot", "/password/forgot", url.Values{"email": {"ada@example.com"}})
	reset := linkIn(t, mp, "ada@example.com", "/password/reset/", 2)
	if p := b.Submit("/account", "/account/email", url.Values{"email": {"new@example.com"}, "current_password": {password}}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("request: %d %q", p.StatusCode, alert(p))
	}
	change := "/email/change/" + linkIn(t, mp, "new@example.com", "/email/change/", 1)
	if p := b.Submit(change, change, url.Values{}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirm: %d %q", p.StatusCode, alert(p))
	}
	path := "/password/reset/" + reset
	if p := h.Browser().Get(path); p.StatusCode == http.StatusOK || p.Doc.Find(`[data-testid="reset-form"]`).Length() != 0 {
		t.Errorf("the old address's reset link still works after the change: %d", p.StatusCode)
	}
}
