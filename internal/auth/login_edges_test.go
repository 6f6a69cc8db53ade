package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
)

// passwordOf returns a password of n characters, each two bytes in UTF-8,
// that passes CheckPassword: the limit is in characters, not bytes.
func passwordOf(n int) string {
	return string([]rune(strings.Repeat("grüne äpfel für öl ", n/19+1))[:n])
}

// TestLongestPassword: a password of MaxPasswordLen characters, the longest
// sign-up accepts, also logs in and can be changed; one character more is
// refused as wrong credentials without being hashed, and still counted.
func TestLongestPassword(t *testing.T) {
	svc, _ := MustService(t, nil, func(c *auth.Config) { c.AccountAddressFailures = 2 })
	ctx := context.Background()
	longest := passwordOf(auth.MaxPasswordLen)
	a, err := svc.Signup(ctx, "ada@example.com", longest, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Login(ctx, "ada@example.com", longest, "192.0.2.1"); err != nil {
		t.Errorf("log-in with a password of MaxPasswordLen characters: %v", err)
	}
	if err := svc.ChangePassword(ctx, audit.Actor{UserID: a.ID, AccountID: a.ID, IP: "192.0.2.1"}, longest, adaPassword); err != nil {
		t.Errorf("changing a password of MaxPasswordLen characters: %v", err)
	}
	tooLong := passwordOf(auth.MaxPasswordLen + 1)
	for i := range 2 {
		if _, err := svc.Login(ctx, "ada@example.com", tooLong, "192.0.2.2"); code(err) != keyhold.EUNAUTHORIZED || keyhold.ErrorMessage(err) != "Incorrect email or password." {
			t.Errorf("too long password %d: %v, want the wrong-credentials answer", i+1, err)
		}
	}
	if _, err := svc.Login(ctx, "ada@example.com", adaPassword, "192.0.2.2"); code(err) != keyhold.ETOOMANY {
		t.Errorf("after two too-long passwords (limit 2): %v, want ETOOMANY: they were not counted", err)
	}
}

// TestNormalizeEmailLength: the longest address is MaxEmailLen bytes.
func TestNormalizeEmailLength(t *testing.T) {
	const domain = "@example.com"
	for _, tt := range []struct {
		n    int
		code string
	}{
		{auth.MaxEmailLen, ""},
		{auth.MaxEmailLen + 1, keyhold.EINVALID},
	} {
		email := strings.Repeat("a", tt.n-len(domain)) + domain
		got, err := auth.NormalizeEmail(email)
		if code(err) != tt.code {
			t.Errorf("%d bytes: %v, want code %q", tt.n, err, tt.code)
		}
		if err == nil && got != email {
			t.Errorf("%d bytes: normalised to %q", tt.n, got)
		}
		if tt.code != "" && !strings.Contains(keyhold.ErrorMessage(err), "at most 254 characters") {
			t.Errorf("%d bytes: message %q does not give the limit", tt.n, keyhold.ErrorMessage(err))
		}
	}
}

// failingAccounts is a Store whose account look-up by email fails, as a
// database outage does.
type failingAccounts struct{ auth.Store }

var errOutage = errors.New("database is down")

func (failingAccounts) UserByEmail(context.Context, string) (*auth.User, error) {
	return nil, errOutage
}

// TestLoginStoreOutage: a database error while looking up the account is an
// internal error carrying the cause, never "incorrect email or password",
// which would tell the owner their password is wrong.
func TestLoginStoreOutage(t *testing.T) {
	_, db := MustService(t, nil)
	svc, err := auth.NewService(auth.Config{Store: failingAccounts{db}, Attempts: db, Secret: secret, CheapHashing: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Login(context.Background(), "ada@example.com", adaPassword, "192.0.2.1")
	if code(err) != keyhold.EINTERNAL || !errors.Is(err, errOutage) {
		t.Errorf("got %v, want an internal error wrapping the outage", err)
	}
}
