// Command middleware is an API whose every request needs a Keyhold API key
// with the scope "read": the Go snippet of the README and the dashboard.
//
//	go mod init example.com/api && go get github.com/keyhold/keyhold/sdk/go
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
