package auth_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
)

const adaPassword = "correct horse battery"

func mustAda(tb testing.TB, svc *auth.Service) *auth.User {
	tb.Helper()
	a, err := svc.Signup(context.Background(), "ada@example.com", adaPassword, false)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// TestLoginEmailTooLong: an email longer than any address can be is
// refused, with a message saying so, before anything is counted: a flood of
// them leaves the address's budget whole.
func TestLoginEmailTooLong(t *testing.T) {
	svc, _ := MustService(t, nil)
	ctx := context.Background()
	mustAda(t, svc)
	huge := strings.Repeat("a", 14_000) + "@example.com"
	for range 60 {
		_, err := svc.Login(ctx, huge, "wrong password!", "192.0.2.1")
		if code(err) != keyhold.EINVALID || !strings.Contains(keyhold.ErrorMessage(err), "at most 254 characters") {
			t.Fatalf("huge email: %v", err)
		}
	}
	if _, err := svc.Login(ctx, strings.Repeat("a", 255-len("@example.com"))+"@example.com", "wrong password!", "192.0.2.1"); code(err) != keyhold.EINVALID {
		t.Errorf("255-character email: %v", err)
	}
	if _, err := svc.Login(ctx, strings.Repeat("a", 254-len("@example.com"))+"@example.com", "wrong password!", "192.0.2.1"); code(err) != keyhold.EUNAUTHORIZED {
		t.Errorf("254-character email: %v, want the usual wrong-credentials answer", err)
	}
	if _, err := svc.Login(ctx, "ada@example.com", adaPassword, "192.0.2.1"); err != nil {
		t.Errorf("the address was throttled by refused emails: %v", err)
	}
}

// TestLoginThrottlePerAccountAndAddress: failures count per account from
// each address, so a stranger's failures lock out the stranger, not the
// owner at another address. Even the right password is refused from the
// blocked address until the window ends.
func TestLoginThrottlePerAccountAndAddress(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	svc, _ := MustService(t, clk)
	ctx := context.Background()
	mustAda(t, svc)
	const stranger, owner = "203.0.113.7", "198.51.100.20"
	var throttled int
	for range 15 {
		_, err := svc.Login(ctx, "ada@example.com", "wrong password!", stranger)
		if code(err) == keyhold.ETOOMANY {
			throttled++
			if d := auth.RetryAfter(err); d <= 0 || d > 15*time.Minute {
				t.Errorf("RetryAfter %v", d)
			}
		}
	}
	if throttled != 5 {
		t.Errorf("throttled %d of 15 attempts from one address, want 5 (limit 10)", throttled)
	}
	if _, err := svc.Login(ctx, "ADA@example.com", adaPassword, stranger); code(err) != keyhold.ETOOMANY {
		t.Errorf("right password from the blocked address: %v", err)
	}
	if _, err := svc.Login(ctx, "ada@example.com", adaPassword, owner); err != nil {
		t.Errorf("the owner, from their own address, was locked out by a stranger: %v", err)
	}
	clk.Advance(15 * time.Minute)
	if _, err := svc.Login(ctx, "ada@example.com", adaPassword, stranger); err != nil {
		t.Errorf("after the window: %v", err)
	}
}

// TestLoginThrottleSuccessClears: a successful log-in forgets the
// failures of the account from that address.
func TestLoginThrottleSuccessClears(t *testing.T) {
	svc, _ := MustService(t, nil)
	ctx := context.Background()
	mustAda(t, svc)
	for range 9 {
		_, _ = svc.Login(ctx, "ada@example.com", "wrong password!", "192.0.2.1") // refused on purpose
	}
	if _, err := svc.Login(ctx, "ada@example.com", adaPassword, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	for i := range 9 {
		if _, err := svc.Login(ctx, "ada@example.com", "wrong password!", "192.0.2.1"); code(err) != keyhold.EUNAUTHORIZED {
			t.Fatalf("failure %d after a success: %v", i+1, err)
		}
	}
}

// TestLoginThrottleCeiling: guessing spread over many addresses still
// meets the per-account ceiling, which blocks every address, the owner's
// too, until the window ends.
func TestLoginThrottleCeiling(t *testing.T) {
	svc, _ := MustService(t, nil, func(c *auth.Config) { c.AccountAddressFailures, c.AccountFailures = 3, 20 })
	ctx := context.Background()
	mustAda(t, svc)
	var throttled int
	for i := range 30 {
		// Two tries from each address: under its low limit of 3.
		_, err := svc.Login(ctx, "ada@example.com", "wrong password!", fmt.Sprintf("203.0.113.%d", i/2))
		if code(err) == keyhold.ETOOMANY {
			throttled++
		}
	}
	if throttled != 10 {
		t.Errorf("throttled %d of 30 attempts from 15 addresses, want 10 (ceiling 20)", throttled)
	}
	if _, err := svc.Login(ctx, "ada@example.com", adaPassword, "198.51.100.20"); code(err) != keyhold.ETOOMANY {
		t.Errorf("right password past the ceiling: %v", err)
	}
}

// TestLoginThrottlePerAddress: one address guessing many accounts is
// stopped by its own limit.
func TestLoginThrottlePerAddress(t *testing.T) {
	svc, _ := MustService(t, nil, func(c *auth.Config) { c.AddressFailures = 5 })
	ctx := context.Background()
	mustAda(t, svc)
	for i := range 5 {
		_, _ = svc.Login(ctx, fmt.Sprintf("user%d@example.com", i), "wrong password!", "192.0.2.1") // refused on purpose
	}
	if _, err := svc.Login(ctx, "ada@example.com", adaPassword, "192.0.2.1"); code(err) != keyhold.ETOOMANY {
		t.Errorf("address over its limit: %v", err)
	}
	if _, err := svc.Login(ctx, "ada@example.com", adaPassword, "192.0.2.2"); err != nil {
		t.Errorf("another address: %v", err)
	}
	// IPv6 clients are counted by their /64.
	for i := range 5 {
		_, _ = svc.Login(ctx, fmt.Sprintf("user%d@example.com", i), "wrong password!", fmt.Sprintf("2001:db8:1:2::%x", i+1)) // refused on purpose
	}
	if _, err := svc.Login(ctx, "ada@example.com", adaPassword, "2001:db8:1:2:ffff::1"); code(err) != keyhold.ETOOMANY {
		t.Errorf("another address of the same /64: %v", err)
	}
}

// TestLoginBurst: a burst of parallel attempts gets no more password checks
// than the limit. Each attempt that is not refused with ETOOMANY had its
// password checked. (Old code checked the block before hashing and counted
// the failure after it, so all 100 were checked and a right password after
// 99 wrong ones got in.) Every attempt of the burst is wrong: a success
// clears the (account, address) counter by design, which would let a
// right password in the middle of the burst reopen the budget.
func TestLoginBurst(t *testing.T) {
	svc, _ := MustService(t, nil)
	ctx := context.Background()
	mustAda(t, svc)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		checked int
	)
	for range 100 {
		wg.Go(func() {
			_, err := svc.Login(ctx, "ada@example.com", "wrong password!", "203.0.113.9")
			mu.Lock()
			defer mu.Unlock()
			switch code(err) {
			case keyhold.ETOOMANY:
			case keyhold.EUNAUTHORIZED:
				checked++
			default:
				t.Errorf("a wrong password got %v", err)
			}
		})
	}
	wg.Wait()
	if checked != 10 {
		t.Errorf("%d of 100 parallel attempts had their password checked, want exactly the limit, 10", checked)
	}
	if _, err := svc.Login(ctx, "ada@example.com", adaPassword, "203.0.113.9"); code(err) != keyhold.ETOOMANY {
		t.Errorf("the right password after the burst, from the same address: got %v, want ETOOMANY", err)
	}
}

// TestThrottleSurvivesRestart: the counters live in the store, so a new
// Service over the same database (a restart, another instance) goes on
// refusing.
func TestThrottleSurvivesRestart(t *testing.T) {
	svc, db := MustService(t, nil)
	ctx := context.Background()
	mustAda(t, svc)
	for range 10 {
		_, _ = svc.Login(ctx, "ada@example.com", "wrong password!", "203.0.113.7") // refused on purpose
	}
	restarted := MustServiceOn(t, db, nil)
	if _, err := restarted.Login(ctx, "ada@example.com", adaPassword, "203.0.113.7"); code(err) != keyhold.ETOOMANY {
		t.Errorf("after a restart: %v, want ETOOMANY", err)
	}
	if _, err := restarted.Login(ctx, "ada@example.com", adaPassword, "198.51.100.20"); err != nil {
		t.Errorf("after a restart, from the owner's address: %v", err)
	}
}

// TestPasswordChangeThrottle: the current-password check of the account
// page is a guessing oracle for whoever holds a session; it counts as a
// log-in of the account from that address.
func TestPasswordChangeThrottle(t *testing.T) {
	svc, _ := MustService(t, nil)
	ctx := context.Background()
	a := mustAda(t, svc)
	thief := audit.Actor{UserID: a.ID, AccountID: a.ID, IP: "203.0.113.7"}
	for i := range 10 {
		if err := svc.ChangePassword(ctx, thief, "wrong password!", "a brand new password"); code(err) != keyhold.EINVALID {
			t.Fatalf("guess %d: %v", i+1, err)
		}
	}
	err := svc.ChangePassword(ctx, thief, adaPassword, "a brand new password")
	if code(err) != keyhold.ETOOMANY || !strings.Contains(keyhold.ErrorMessage(err), "Too many wrong passwords") || auth.RetryAfter(err) <= 0 {
		t.Fatalf("11th try, right password: %v", err)
	}
	// It is one budget with log-ins from that address...
	if _, err := svc.Login(ctx, "ada@example.com", adaPassword, "203.0.113.7"); code(err) != keyhold.ETOOMANY {
		t.Errorf("log-in from the thief's address: %v", err)
	}
	// ...and the owner elsewhere is not affected.
	if err := svc.ChangePassword(ctx, audit.Actor{UserID: a.ID, AccountID: a.ID, IP: "198.51.100.20"}, adaPassword, "a brand new password"); err != nil {
		t.Errorf("the owner's change: %v", err)
	}
}

// TestSignupThrottle: each address may sign up SignupsPerAddress times per
// window; the command line is not throttled.
func TestSignupThrottle(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	svc, _ := MustService(t, clk, func(c *auth.Config) { c.SignupsPerAddress = 5 })
	ctx := context.Background()
	for i := range 5 {
		if _, err := svc.SignupFrom(ctx, fmt.Sprintf("u%d@example.com", i), adaPassword, "192.0.2.1"); err != nil {
			t.Fatalf("sign-up %d: %v", i+1, err)
		}
	}
	_, err := svc.SignupFrom(ctx, "u5@example.com", adaPassword, "192.0.2.1")
	if code(err) != keyhold.ETOOMANY || !strings.Contains(keyhold.ErrorMessage(err), "Too many sign-ups") {
		t.Fatalf("6th sign-up: %v", err)
	}
	if d := auth.RetryAfter(err); d <= 0 || d > time.Hour {
		t.Errorf("RetryAfter %v", d)
	}
	if _, err := svc.SignupFrom(ctx, "u5@example.com", adaPassword, "192.0.2.2"); err != nil {
		t.Errorf("another address: %v", err)
	}
	if _, err := svc.Signup(ctx, "ops@example.com", adaPassword, true); err != nil {
		t.Errorf("command line: %v", err)
	}
	// Invalid input is refused before it is counted.
	clk.Advance(time.Hour)
	for range 10 {
		_, _ = svc.SignupFrom(ctx, "not-an-email", adaPassword, "192.0.2.3") // refused on purpose
	}
	if _, err := svc.SignupFrom(ctx, "u6@example.com", adaPassword, "192.0.2.3"); err != nil {
		t.Errorf("after invalid sign-ups: %v", err)
	}
	clk.Advance(time.Hour)
	if _, err := svc.SignupFrom(ctx, "u7@example.com", adaPassword, "192.0.2.1"); err != nil {
		t.Errorf("after the window: %v", err)
	}
}

// TestPasswordChangeRefusesWeak: the new password follows the same rules
// as at sign-up, with the account's own email.
func TestPasswordChangeRefusesWeak(t *testing.T) {
	svc, _ := MustService(t, nil)
	ctx := context.Background()
	a := mustAda(t, svc)
	me := audit.Actor{UserID: a.ID, AccountID: a.ID, IP: "192.0.2.1"}
	for _, tt := range []struct{ next, want string }{
		{"password123", "common passwords"},
		{"ada@example.com!!", "email address"},
		{"ADA_2024_ADA", "email address"},
		{"keyhold2024", "Keyhold"},
		{"bbbbbbbbbbbb", "repeats"},
	} {
		err := svc.ChangePassword(ctx, me, adaPassword, tt.next)
		if code(err) != keyhold.EINVALID || !strings.Contains(keyhold.ErrorMessage(err), tt.want) {
			t.Errorf("%q: %v, want EINVALID saying %q", tt.next, err, tt.want)
		}
	}
	if _, err := svc.Login(ctx, "ada@example.com", adaPassword, "192.0.2.1"); err != nil {
		t.Errorf("a refused change changed the password: %v", err)
	}
}
