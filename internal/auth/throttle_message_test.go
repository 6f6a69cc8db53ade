package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
)

// TestThrottleMessage: a refused attempt says how long to wait in whole
// minutes, rounded up so that waiting that long is always enough, with the
// right plural, and RetryAfter gives the exact wait, at least a second.
// The in-memory Throttle keeps the window ends to the nanosecond, so the
// rounding is checked at its edges.
func TestThrottleMessage(t *testing.T) {
	const window = 15 * time.Minute
	tests := []struct {
		name    string
		after   time.Duration // since the attempt that filled the limit
		minutes string
		retry   time.Duration
	}{
		{"at once", 0, "15 minutes", window},
		{"a nanosecond later", time.Nanosecond, "15 minutes", window - time.Nanosecond},
		{"a whole minute later", time.Minute, "14 minutes", window - time.Minute},
		{"just over a minute left", window - time.Minute - time.Nanosecond, "2 minutes", time.Minute + time.Nanosecond},
		{"a minute left", window - time.Minute, "1 minute", time.Minute},
		{"a nanosecond left", window - time.Nanosecond, "1 minute", time.Second},
	}
	// Each way in fills its limit with one attempt (limits of 1) and is
	// refused by the next.
	ways := []struct {
		name, message string
		attempt       func(ctx context.Context, svc *auth.Service, a *auth.User) error
	}{
		{"log-in", "Too many failed attempts. Try again in %s.", func(ctx context.Context, svc *auth.Service, _ *auth.User) error {
			_, err := svc.Login(ctx, "ada@example.com", "wrong password!", "192.0.2.1")
			return err
		}},
		{"password change", "Too many wrong passwords. Try again in %s.", func(ctx context.Context, svc *auth.Service, a *auth.User) error {
			return svc.ChangePassword(ctx, audit.Actor{UserID: a.ID, AccountID: a.ID, IP: "192.0.2.1"}, "wrong password!", "a brand new password")
		}},
		{"sign-up", "Too many sign-ups from your network. Try again in %s.", func(ctx context.Context, svc *auth.Service, _ *auth.User) error {
			_, err := svc.SignupFrom(ctx, "new@example.com", adaPassword, "192.0.2.1")
			return err
		}},
	}
	for _, w := range ways {
		for _, tt := range tests {
			t.Run(w.name+", "+tt.name, func(t *testing.T) {
				clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
				svc, _ := MustService(t, clk, func(c *auth.Config) {
					c.Attempts = auth.NewThrottle(0)
					c.AccountAddressFailures, c.FailureWindow = 1, window
					c.SignupsPerAddress, c.SignupWindow = 1, window
				})
				ctx := context.Background()
				a := mustAda(t, svc)
				_ = w.attempt(ctx, svc, a) // fills the limit
				clk.Advance(tt.after)
				err := w.attempt(ctx, svc, a)
				if want := fmtMessage(w.message, tt.minutes); code(err) != keyhold.ETOOMANY || keyhold.ErrorMessage(err) != want {
					t.Errorf("got %v (%s), want ETOOMANY saying %q", err, code(err), want)
				}
				if got := auth.RetryAfter(err); got != tt.retry {
					t.Errorf("RetryAfter %v, want %v", got, tt.retry)
				}
				// The log gets the chain, which names the wait.
				if want := "auth: throttled for " + tt.retry.String(); err == nil || !strings.HasSuffix(err.Error(), want) {
					t.Errorf("error %v does not end with %q", err, want)
				}
			})
		}
	}
}

func fmtMessage(format, minutes string) string {
	return keyhold.Errorf(keyhold.ETOOMANY, format, minutes).Message
}
