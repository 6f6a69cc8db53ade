package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/store"
)

// TestEmailTokenOneUse: of many requests racing with one reset link,
// exactly one sets the password, on SQLite and PostgreSQL; the link is
// then used, and expired links are refused by the store itself.
func TestEmailTokenOneUse(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := mustAccount(t, db, "ada@example.com")
		now := time.Now().UTC()
		tok := &auth.EmailToken{Hash: auth.TokenHash("race"), UserID: a.ID, Purpose: auth.PurposePasswordReset, Email: a.Email,
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := db.SaveEmailToken(ctx, tok, nil); err != nil {
			t.Fatal(err)
		}
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = db.ResetPassword(ctx, tok.Hash, time.Now().UTC(), "hash-"+string(rune('a'+i))) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, auth.ErrTokenUsed):
				t.Errorf("unexpected error: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d requests used one token", won)
		}
		got, err := db.EmailToken(ctx, tok.Hash)
		if err != nil || got.UsedAt == nil {
			t.Fatalf("token after use: %+v %v", got, err)
		}

		// A newer link of the same purpose ends the older unused one.
		old := &auth.EmailToken{Hash: auth.TokenHash("old"), UserID: a.ID, Purpose: auth.PurposeVerifyEmail, Email: a.Email, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		newer := &auth.EmailToken{Hash: auth.TokenHash("new"), UserID: a.ID, Purpose: auth.PurposeVerifyEmail, Email: a.Email, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		for _, x := range []*auth.EmailToken{old, newer} {
			if err := db.SaveEmailToken(ctx, x, nil); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.EmailToken(ctx, old.Hash); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("the older link still exists: %v", err)
		}
		// Past its expiry the store refuses it, whatever the caller checked.
		if err := db.VerifyEmail(ctx, newer.Hash, now.Add(2*time.Hour)); !errors.Is(err, auth.ErrTokenUsed) {
			t.Errorf("expired verify: %v", err)
		}
		if err := db.VerifyEmail(ctx, newer.Hash, now); err != nil {
			t.Fatal(err)
		}
		acc, err := db.UserByID(ctx, a.ID)
		if err != nil || acc.EmailVerifiedAt == nil {
			t.Errorf("not verified: %+v %v", acc, err)
		}
		// A mail to queue without an outbox is an error, not a silent drop.
		m := &auth.Mail{Kind: auth.PurposeVerifyEmail, To: a.Email, Token: "x"}
		x := &auth.EmailToken{Hash: auth.TokenHash("x"), UserID: a.ID, Purpose: auth.PurposeVerifyEmail, Email: a.Email, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := db.SaveEmailToken(ctx, x, m); err == nil {
			t.Error("a mail was dropped without an outbox")
		}
		if _, err := db.EmailToken(ctx, x.Hash); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("the token was saved though its mail could not be queued: %v", err)
		}
	})
}
