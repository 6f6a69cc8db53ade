package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keys"
)

// pageQueryBudget is the most statements a portal page may run, session
// lookup included (issue 11). The console's account page may run one more
// (consoleAccountBudget): since teams it also lists the account's members.
const (
	pageQueryBudget      = 6
	consoleAccountBudget = pageQueryBudget + 1
)

// statements serves path to b in process and returns how many statements
// the store ran for it.
func (b *browser) statements(path string) int64 {
	b.h.t.Helper()
	ctx, n := b.h.DB.CountStatements(context.Background())
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, b.h.URL+path, nil)
	u, _ := url.Parse(b.h.URL)
	for _, c := range b.client.Jar.Cookies(u) {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	b.h.Handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.h.t.Fatalf("GET %s = %d, want 200; log: %s", path, rec.Code, b.h.log.String())
	}
	return n()
}

// TestPageQueries holds the pages that merge stored and live usage to a
// budget of statements that does not grow with the number of keys: the
// key list is one query whether it has 1 row or 20.
func TestPageQueries(t *testing.T) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) {
			pages := []string{"/dashboard", "/keys", "/keys/{key}", "/admin/accounts/{account}"}
			counts := map[string]map[int]int64{}
			for _, n := range []int{1, 20} {
				h := d.start(t)
				ctx := context.Background()
				b := h.Browser()
				b.MustSignup("ada@example.com")
				id := accountID(t, h, "ada@example.com")
				if err := h.DB.SetPlan(ctx, id, "business"); err != nil {
					t.Fatal(err)
				}
				var keyID string
				for i := range n {
					k, _, err := h.Keys.Create(ctx, audit.Actor{UserID: id, AccountID: id, Role: "owner"}, id, keys.Settings{Name: fmt.Sprintf("key %d", i)})
					if err != nil {
						t.Fatal(err)
					}
					keyID = k.ID
				}
				op := h.MustAdmin("op@example.com")
				for _, p := range pages {
					path := strings.NewReplacer("{key}", keyID, "{account}", id).Replace(p)
					who := b
					if strings.HasPrefix(p, "/admin") {
						who = op
					}
					if counts[p] == nil {
						counts[p] = map[int]int64{}
					}
					counts[p][n] = who.statements(path)
				}
			}
			for _, p := range pages {
				one, twenty := counts[p][1], counts[p][20]
				t.Logf("%-8s %-26s 1 key: %2d  20 keys: %2d", d.name, p, one, twenty)
				budget := int64(pageQueryBudget)
				if p == "/admin/accounts/{account}" {
					budget = consoleAccountBudget
				}
				if one > budget || twenty > budget {
					t.Errorf("GET %s runs %d statements with 1 key and %d with 20; the budget is %d", p, one, twenty, budget)
				}
				// A page is the session's one statement and at least two reads:
				// fewer means the counter counts nothing, and every budget would
				// pass.
				if one < 3 {
					t.Errorf("GET %s counted %d statements; the counter is not counting", p, one)
				}
				if one != twenty {
					t.Errorf("GET %s runs %d statements with 1 key but %d with 20: a query per key", p, one, twenty)
				}
			}
		})
	}
}
