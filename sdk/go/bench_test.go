package keyhold_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	keyhold "github.com/keyhold/keyhold/sdk/go"
)

// benchKey creates a key for a benchmark. The benchmarks verify with
// NoCost, so that the test plan's rate limit of 1 per second does not turn
// them into a measure of refusals.
func benchKey(b *testing.B) string {
	b.Helper()
	p := newPortal(b)
	return p.createKey("bench", "read")
}

// BenchmarkVerify is one Verify round trip to the test Keyhold over
// loopback: what the SDK adds is the JSON both ways and the HTTP client.
func BenchmarkVerify(b *testing.B) {
	key := benchKey(b)
	kh := keyhold.New(keyholdURL)
	ctx := context.Background()
	opts := keyhold.VerifyOptions{Cost: keyhold.NoCost, Scopes: []string{"read"}}
	b.ReportAllocs()
	for b.Loop() {
		v, err := kh.Verify(ctx, key, opts)
		if err != nil || !v.Valid {
			b.Fatalf("Verify = %+v, %v", v, err)
		}
	}
}

// BenchmarkMiddleware is one request through the middleware to a handler
// that writes nothing, with Verify going to the test Keyhold: the cost of
// putting the middleware in front of an API.
func BenchmarkMiddleware(b *testing.B) {
	key := benchKey(b)
	h := keyhold.New(keyholdURL).Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
		keyhold.WithCost(keyhold.NoCost), keyhold.WithScopes("read"))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkPlainPost is the same call made by hand with net/http and a
// map, the baseline against which BenchmarkVerify shows what the SDK
// costs.
func BenchmarkPlainPost(b *testing.B) {
	key := benchKey(b)
	body := []byte(`{"key":"` + key + `","cost":0,"scopes":["read"]}`)
	client := &http.Client{}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Post(keyholdURL+"/v1/verify", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		var v map[string]any
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if err != nil || v["valid"] != true {
			b.Fatalf("answer %v, %v", v, err)
		}
	}
}
