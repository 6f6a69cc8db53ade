package keyhold_test

import (
	"context"
	"errors"
	"fmt"

	keyhold "github.com/keyhold/keyhold/sdk/go"
)

// Example_tokenExchange is the whole exchange, run against the real
// Keyhold the tests start (keyholdURL; yours is its KEYHOLD_BASE_URL): a
// backend makes a customer's key with the management API, the customer
// exchanges the key for a short-lived token, and an internal service
// checks the token offline, against the keys Keyhold publishes.
func Example_tokenExchange() {
	ctx := context.Background()

	// Your backend, with a root key: an account and a key for a customer.
	backend := keyhold.New(keyholdURL, keyhold.WithRootKey(exampleRootKey("accounts.write", "keys.write")))
	acct, err := backend.CreateAccount(ctx, keyhold.NewAccount{Name: "Example Co"})
	if err != nil {
		fmt.Println("create account:", err)
		return
	}
	key, err := backend.CreateKey(ctx, acct.ID, keyhold.NewKey{Name: "production", Scopes: []string{"read", "write"}})
	if err != nil {
		fmt.Println("create key:", err)
		return
	}

	// The customer: the key for a token that may only read.
	kh := keyhold.New(keyholdURL)
	tok, refusal, err := kh.Token(ctx, key.Secret, keyhold.TokenOptions{Scopes: []string{"read"}})
	if err != nil || refusal != nil {
		fmt.Println("exchange:", err, refusal)
		return
	}
	fmt.Println("token for the key:", tok.KeyID == key.ID, tok.TokenType)

	// An internal service: no call to Keyhold per request, only the
	// cached public keys.
	tv := kh.TokenVerifier()
	claims, err := tv.VerifyToken(ctx, tok.Token, keyhold.TokenCheck{Scopes: []string{"read"}})
	if err != nil {
		fmt.Println("verify:", err)
		return
	}
	fmt.Println("account:", claims.AccountID == acct.ID, "scopes:", claims.Scopes)

	// The token carries only what was asked for.
	_, err = tv.VerifyToken(ctx, tok.Token, keyhold.TokenCheck{Scopes: []string{"write"}})
	fmt.Println("may write:", !errors.Is(err, keyhold.ErrTokenScope))

	// Output:
	// token for the key: true Bearer
	// account: true scopes: [read]
	// may write: false
}

// exampleRootKey makes a root key with perms on the test Keyhold, as an
// operator does once with keyhold admin create-root-key; "" when that
// fails, which the example then prints as a 401.
func exampleRootKey(perms ...string) string {
	k, _ := makeRootKey("example", perms...)
	return k
}
