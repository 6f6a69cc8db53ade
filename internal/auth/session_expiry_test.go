package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/store/storetest"
)

// mustDB returns a fresh, migrated SQLite database.
func mustDB(tb testing.TB) *store.DB {
	tb.Helper()
	return storetest.New(tb, storetest.SQLite)
}

// TestSessionExpiryIsCheckedTwice checks each of the two expiry checks on
// its own: the token's exp claim and the session row's expires_at. Each
// case lets the other one pass, so removing either check fails a case:
// the row check matters when a row is cut short (an operator or a
// future policy shortens sessions), the token check when a row outlives
// the token it was issued with.
func TestSessionExpiryIsCheckedTwice(t *testing.T) {
	tests := []struct {
		name string
		// ttl is the row's lifetime; tokenExp is the token's expiry
		// relative to the time of the check.
		ttl      time.Duration
		tokenExp time.Duration
		advance  time.Duration
	}{
		{"expired row, token still valid", time.Hour, 24 * time.Hour, 2 * time.Hour},
		{"expired token, row still live", 7 * 24 * time.Hour, -time.Hour, 2 * time.Hour},
		{"row expires this very second", time.Hour, 24 * time.Hour, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
			ctx := context.Background()
			db := mustDB(t)
			svc, err := auth.NewService(auth.Config{Store: db, Secret: secret, CheapHashing: true, Now: clk.Now, SessionTTL: tt.ttl})
			if err != nil {
				t.Fatal(err)
			}
			a, _ := svc.Signup(ctx, "ada@example.com", "correct horse battery", false)
			tok, _, err := svc.StartSession(ctx, a.ID, "", "")
			if err != nil {
				t.Fatal(err)
			}
			clk.Advance(tt.advance)
			// The same claims, signed with the session key, with the exp
			// this case needs: a token Keyhold could have issued.
			parsed, _, err := jwt.NewParser().ParseUnverified(tok, &jwt.RegisteredClaims{})
			if err != nil {
				t.Fatal(err)
			}
			claims := *parsed.Claims.(*jwt.RegisteredClaims)
			claims.ExpiresAt = jwt.NewNumericDate(clk.Now().Add(tt.tokenExp))
			resigned, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(auth.DeriveKey(secret, "session-jwt"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Authenticate(ctx, resigned); code(err) != keyhold.EUNAUTHORIZED {
				t.Errorf("accepted or wrong error: %v", err)
			}

			// The control: the same re-signing with both checks passing is
			// accepted, so the refusal above is the expiry's.
			clk.Advance(-tt.advance)
			claims.ExpiresAt = jwt.NewNumericDate(clk.Now().Add(time.Minute))
			good, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(auth.DeriveKey(secret, "session-jwt"))
			if _, err := svc.Authenticate(ctx, good); err != nil {
				t.Errorf("the control token was refused: %v", err)
			}
		})
	}
}
