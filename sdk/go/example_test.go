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

func ExampleNew() {
	kh := keyhold.New("https://keys.example.com",
		keyhold.WithTimeout(time.Second),
		keyhold.WithUserAgent("my-api/1.4"),
	)
	_ = kh
}

func ExampleClient_Verify() {
	kh := keyhold.New("http://localhost:8080")
	var key string // from the request, e.g. keyhold.KeyFromRequest(r)

	v, err := kh.Verify(context.Background(), key, keyhold.VerifyOptions{Cost: 1, Scopes: []string{"read"}})
	switch {
	case errors.Is(err, keyhold.ErrTimeout), errors.Is(err, keyhold.ErrUnreachable):
		log.Printf("Keyhold is unreachable: %v", err) // answer 503, not 401
	case err != nil:
		log.Printf("Keyhold gave no answer: %v", err) // 503 too
	case !v.Valid:
		log.Printf("key refused: %s (%s); retry after %s", v.Code, v.Message, v.RetryAfter)
	default:
		log.Printf("key %s of %s: %d calls left this second, %d this period",
			v.KeyID, v.OwnerID, v.RateLimit.Remaining, v.Quota.Remaining)
	}
}

func ExampleClient_Middleware() {
	kh := keyhold.New("http://localhost:8080")
	reports := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "the reports")
	})
	mux := http.NewServeMux()
	// Each call to /reports needs the scope "reports" and costs 5.
	mux.Handle("/reports", kh.Middleware(reports, keyhold.WithScopes("reports"), keyhold.WithCost(5)))
	_ = http.ListenAndServe(":3000", mux)
}

func ExampleFromContext() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := keyhold.FromContext(r.Context()) // non-nil behind the middleware
		fmt.Fprintf(w, "account %s on plan %s\n", v.OwnerID, v.Plan)
	})
	_ = keyhold.New("http://localhost:8080").Middleware(handler)
}

func ExampleKeyFromRequest() {
	r, _ := http.NewRequest(http.MethodGet, "http://localhost:3000/hello", nil)
	r.Header.Set("Authorization", "Bearer kh_live_example")
	fmt.Println(keyhold.KeyFromRequest(r) != "")
	// Output: true
}

func ExampleNewContext() {
	// A handler's test can put a Verification in the context, as the
	// middleware does, without a Keyhold.
	ctx := keyhold.NewContext(context.Background(), &keyhold.Verification{Valid: true, Code: keyhold.CodeValid, Plan: "pro"})
	fmt.Println(keyhold.FromContext(ctx).Plan)
	// Output: pro
}

func ExampleWithHTTPClient() {
	// A client of your own (a proxy, custom TLS); redirects are still not
	// followed unless it says otherwise.
	kh := keyhold.New("https://keys.example.com", keyhold.WithHTTPClient(&http.Client{Transport: http.DefaultTransport}))
	_ = kh
}

func ExampleWithErrorHandler() {
	kh := keyhold.New("http://localhost:8080")
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	// Count the calls Keyhold could not answer (they get 503) in your own
	// metrics instead of the default log line.
	_ = kh.Middleware(api, keyhold.WithErrorHandler(func(r *http.Request, err error) {
		log.Printf("keyhold: %s %s: %v", r.Method, r.URL.Path, err)
	}))
}
