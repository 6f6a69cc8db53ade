package server_test

import (
	"fmt"
	"testing"
)

// The management API's throughput over HTTP, one client at a time, on
// both databases: creating keys (a transaction with the plan's limit and
// an audit entry) and listing an account's keys.

func benchServers(b *testing.B, run func(b *testing.B, h *harness)) {
	for _, db := range []struct {
		name string
		new  func(testing.TB, ...option) *harness
	}{{"SQLite", MustServer}, {"PostgreSQL", MustServerOnPostgres}} {
		b.Run(db.name, func(b *testing.B) {
			h := db.new(b, withMaxKeys(b, 10_000_000), withAPIRate(1_000_000, 1_000_000))
			run(b, h)
		})
	}
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func BenchmarkAPICreateKey(b *testing.B) {
	benchServers(b, func(b *testing.B, h *harness) {
		root := h.mustRootKey("keys.write")
		acct := apiAccount(b, h, "bench@example.com")
		path := "/v1/accounts/" + acct + "/keys"
		body := map[string]any{"name": "bench", "scopes": []string{"read"}, "meta": map[string]any{"tier": "gold"}}
		b.ResetTimer()
		for b.Loop() {
			if c := h.call("POST", path, root, body); c.Status != 201 {
				b.Fatalf("%d %s", c.Status, c.Body)
			}
		}
		reportRate(b)
	})
}

func BenchmarkAPIListKeys(b *testing.B) {
	benchServers(b, func(b *testing.B, h *harness) {
		root := h.mustRootKey("keys.write", "keys.read")
		acct := apiAccount(b, h, "bench@example.com")
		for i := range 100 {
			if c := h.call("POST", "/v1/accounts/"+acct+"/keys", root, map[string]any{"name": fmt.Sprint("k", i)}); c.Status != 201 {
				b.Fatalf("%d %s", c.Status, c.Body)
			}
		}
		path := "/v1/keys?account_id=" + acct
		b.ResetTimer()
		for b.Loop() {
			if c := h.call("GET", path, root, nil); c.Status != 200 {
				b.Fatalf("%d %s", c.Status, c.Body)
			}
		}
		reportRate(b)
	})
}
