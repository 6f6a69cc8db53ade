// Command middleware is an API whose every request needs a Keyhold API key
// with the scope "read": the README's Go snippet. (The dashboard's Go tab
// shows a standard-library file until this module is published.)
//
//	go mod init example.com/api
//	go mod edit -replace github.com/keyhold/keyhold/sdk/go=/path/to/keyhold/sdk/go && go mod tidy
//	KEYHOLD_BASE_URL=http://localhost:8080 go run .
//	curl -H "Authorization: Bearer $KEY" http://localhost:3000/hello
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	keyhold "github.com/keyhold/keyhold/sdk/go"
)

func main() {
	base := os.Getenv("KEYHOLD_BASE_URL")
	if base == "" {
		base = "http://localhost:8080"
	}
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = ":3000"
	}
	kh := keyhold.New(base, keyhold.WithTimeout(2*time.Second))

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := keyhold.FromContext(r.Context())
		fmt.Fprintf(w, "hello, key %s of account %s (%d calls left this second)\n",
			v.KeyID, v.OwnerID, v.RateLimit.Remaining)
	})
	mux := http.NewServeMux()
	// No key: 401. Refused: Keyhold's answer (401, 403 or 429 with
	// Retry-After and RateLimit-*). Keyhold unreachable: 503.
	mux.Handle("/hello", kh.Middleware(hello, keyhold.WithScopes("read"), keyhold.WithCost(1)))

	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("listening on %s, verifying keys with %s", addr, base)
	log.Fatal(srv.ListenAndServe())
}
