package keyhold_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"

	keyhold "github.com/keyhold/keyhold/sdk/go"
)

func ExampleClient_Token() {
	kh := keyhold.New("http://localhost:8080")
	var key string // the API key your caller sent

	// A token for the billing service, with the scope read, for two
	// minutes; the exchange costs 1 like a verification.
	tok, refusal, err := kh.Token(context.Background(), key, keyhold.TokenOptions{
		Scopes: []string{"read"}, TTL: 2 * time.Minute, Audience: "billing",
	})
	switch {
	case err != nil:
		log.Printf("Keyhold gave no answer: %v", err) // 503
	case refusal != nil:
		log.Printf("key refused: %s (%s)", refusal.Code, refusal.Message) // as Verify: 401, 403, 429
	default:
		// Send it to the internal services instead of the key.
		req, _ := http.NewRequest(http.MethodGet, "http://billing.internal/invoices", nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		log.Printf("token of key %s until %s", tok.KeyID, tok.ExpiresAt)
	}
}

func ExampleClient_TokenVerifier() {
	kh := keyhold.New("http://localhost:8080")
	// One verifier per service, shared by every request: it caches
	// Keyhold's keys. Refresh fetches them at start-up.
	tv := kh.TokenVerifier()
	if err := tv.Refresh(context.Background()); err != nil {
		log.Printf("Keyhold's keys are not available yet: %v", err)
	}
}

func ExampleTokenVerifier_VerifyToken() {
	tv := keyhold.New("http://localhost:8080").TokenVerifier()
	var token string // from Authorization: Bearer

	claims, err := tv.VerifyToken(context.Background(), token, keyhold.TokenCheck{
		Audience: "billing", Scopes: []string{"read"},
	})
	switch {
	case errors.Is(err, keyhold.ErrTokenKeysUnavailable):
		log.Printf("cannot check tokens now: %v", err) // 503
	case errors.Is(err, keyhold.ErrTokenScope):
		log.Printf("genuine token, missing scope: %v", err) // 403
	case errors.Is(err, keyhold.ErrTokenExpired):
		log.Print("expired: the caller gets a new token") // 401
	case err != nil:
		log.Printf("bad token: %v", err) // 401
	default:
		log.Printf("key %s of account %s, scopes %v", claims.KeyID, claims.AccountID, claims.Scopes)
	}
}

func ExampleTokenVerifier_Middleware() {
	tv := keyhold.New("http://localhost:8080").TokenVerifier()
	invoices := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "the invoices of", keyhold.TokenFromContext(r.Context()).AccountID)
	})
	mux := http.NewServeMux()
	mux.Handle("/invoices", tv.Middleware(invoices,
		keyhold.WithTokenCheck(keyhold.TokenCheck{Audience: "billing", Scopes: []string{"read"}})))
	_ = http.ListenAndServe(":3001", mux)
}

func ExampleClient_TokenMiddleware() {
	kh := keyhold.New("http://localhost:8080")
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello, key", keyhold.TokenFromContext(r.Context()).KeyID)
	})
	// The token's default audience is Keyhold's base URL, which the
	// check's default matches.
	_ = http.ListenAndServe(":3001", kh.TokenMiddleware(hello))
}

func ExampleTokenFromContext() {
	// A handler's test can put claims in the context, as the token
	// middleware does, without a Keyhold.
	ctx := keyhold.NewTokenContext(context.Background(), &keyhold.TokenClaims{KeyID: "key_01", Scopes: []string{"read"}})
	c := keyhold.TokenFromContext(ctx)
	fmt.Println(c.KeyID, c.HasScope("read"), c.HasScope("write"))
	// Output: key_01 true false
}

func ExampleWithIssuer() {
	// The service reaches Keyhold inside the cluster, while Keyhold's
	// KEYHOLD_BASE_URL, the tokens' iss, is its public URL.
	tv := keyhold.New("http://keyhold.internal:8080").TokenVerifier(keyhold.WithIssuer("https://keys.example.com"))
	_ = tv
}
