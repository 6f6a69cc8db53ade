package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/team"
)

// TestAccountLookup: Account returns the account by id; an unknown id is
// ENOTFOUND with a message for the page, wrapping the store's ErrNotFound.
func TestAccountLookup(t *testing.T) {
	svc, _ := MustService(t, nil)
	ctx := context.Background()
	a := mustAda(t, svc)
	got, err := svc.Account(ctx, a.ID)
	if err != nil || got.ID != a.ID || got.Name != "ada@example.com" {
		t.Errorf("Account(%s) = %+v, %v", a.ID, got, err)
	}
	_, err = svc.Account(ctx, "no-such-id")
	if code(err) != keyhold.ENOTFOUND || keyhold.ErrorMessage(err) != "No such account." || !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("unknown id: %v, want ENOTFOUND \"No such account.\" wrapping ErrNotFound", err)
	}
}

// failingAccountByID is a Store whose account look-up by id fails, as a
// database outage does.
type failingAccountByID struct{ auth.Store }

func (failingAccountByID) AccountByID(context.Context, string) (*team.Account, error) {
	return nil, errOutage
}

// TestAccountLookupOutage: a database error is an internal error carrying
// the cause, not "No such account.", which would tell the page the account
// was deleted.
func TestAccountLookupOutage(t *testing.T) {
	_, db := MustService(t, nil)
	svc, err := auth.NewService(auth.Config{Store: failingAccountByID{db}, Attempts: db, Secret: secret, CheapHashing: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Account(context.Background(), "any-id")
	if code(err) != keyhold.EINTERNAL || !errors.Is(err, errOutage) {
		t.Errorf("got %v, want an internal error wrapping the outage", err)
	}
}
