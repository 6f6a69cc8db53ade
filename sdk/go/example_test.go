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

func ExampleWithRootKey() {
	// A root key is your backend's, never your customers': keep it in
	// your secret store.
	kh := keyhold.New("https://keys.example.com", keyhold.WithRootKey("kh_root_…"))
	ctx := context.Background()

	// When a customer signs up in your app: an account and a first key.
	acct, err := kh.CreateAccount(ctx, keyhold.NewAccount{Name: "Acme Corp", ExternalID: "cus_123"})
	if err != nil {
		log.Fatal(err)
	}
	k, err := kh.CreateKey(ctx, acct.ID, keyhold.NewKey{Name: "production", Scopes: []string{"read"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("give your customer", k.Display) // and k.Secret, once
}

func ExampleClient_Keys() {
	kh := keyhold.New("https://keys.example.com", keyhold.WithRootKey("kh_root_…"))
	// Every key of an account, a page at a time.
	f := keyhold.KeyFilter{AccountID: "01j…", Page: keyhold.Page{Limit: 100}}
	for {
		page, err := kh.Keys(context.Background(), f)
		if err != nil {
			log.Fatal(err)
		}
		for _, k := range page.Data {
			fmt.Println(k.Name, k.Status)
		}
		if !page.HasMore {
			break
		}
		f.StartingAfter = page.Data[len(page.Data)-1].ID
	}
}

func ExampleAPIError() {
	kh := keyhold.New("https://keys.example.com", keyhold.WithRootKey("kh_root_…"))
	_, err := kh.CreateAccount(context.Background(), keyhold.NewAccount{Name: ""})
	var apiErr *keyhold.APIError
	if errors.As(err, &apiErr) {
		for _, f := range apiErr.Errors {
			fmt.Println(f.Location, f.Message) // body.name: Give the account a name…
		}
	}
}

func ExampleClient_UpdateAccount() {
	kh := keyhold.New("https://keys.example.com", keyhold.WithRootKey("kh_root_…"))
	// Your billing job comps a plan; a fraud check suspends an account
	// (its keys answer DISABLED on the next verify).
	plan, suspended := "pro", true
	if _, err := kh.UpdateAccount(context.Background(), "01j…", keyhold.AccountUpdate{Plan: &plan, Suspended: &suspended}); err != nil {
		log.Fatal(err)
	}
}

func ExampleClient_RotateKey() {
	kh := keyhold.New("https://keys.example.com", keyhold.WithRootKey("kh_root_…"))
	// The old secret keeps working for a day while the customer deploys
	// the new one.
	k, err := kh.RotateKey(context.Background(), "01j…", 24*time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("new secret for", k.Display, "; the old one ends at", k.OldSecretExpiresAt)
}

func ExampleClient_RevokeKey() {
	kh := keyhold.New("https://keys.example.com", keyhold.WithRootKey("kh_root_…"))
	if _, err := kh.RevokeKey(context.Background(), "01j…"); keyhold.IsNotFound(err) {
		fmt.Println("no such key")
	} else if err != nil {
		log.Fatal(err)
	}
}

func ExampleClient_KeyUsage() {
	kh := keyhold.New("https://keys.example.com", keyhold.WithRootKey("kh_root_…"))
	u, err := kh.KeyUsage(context.Background(), "01j…", keyhold.UsageRange{Granularity: "hour", From: time.Now().Add(-6 * time.Hour)})
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range u.Data {
		fmt.Println(b.Start.Format("15:04"), b.Valid, "valid,", b.RateLimited, "rate limited")
	}
}

func ExampleClient_Audit() {
	kh := keyhold.New("https://keys.example.com", keyhold.WithRootKey("kh_root_…"))
	page, err := kh.Audit(context.Background(), keyhold.AuditFilter{AccountID: "01j…", Action: "key."})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range page.Data {
		fmt.Println(e.CreatedAt.Format(time.RFC3339), e.Action, "by", e.Actor.Type, e.Detail)
	}
}
