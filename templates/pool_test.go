package templates

import (
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

var pooledPlan = Plan{Name: "Team", MaxKeys: 5, LiveKeys: 2, MonthlyQuota: 100_000, RatePerSec: 10, Burst: 20, Pooled: true}

// pooledKeys are a pooled account's keys: two that draw on the shared
// quota and one with a quota of its own (an operator's override).
func pooledKeys(poolUsed int64) []KeyRow {
	ks := testKeys()
	ks[0].Quota, ks[0].Used, ks[0].Pooled, ks[0].PoolUsed = 0, 9_000, true, poolUsed
	ks[1].Quota, ks[1].Used, ks[1].Pooled, ks[1].PoolUsed = 0, 3_340, true, poolUsed
	ks[2].Quota, ks[2].Used = 500, 450 // its own quota, 90 %: amber
	return ks
}

func testPool(used int64) *PoolQuota {
	return &PoolQuota{Used: used, Limit: 100_000, Resets: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// poolCard finds the one shared-quota card of doc and checks its hooks.
func poolCard(t *testing.T, doc *goquery.Document, used, limit string) *goquery.Selection {
	t.Helper()
	card := doc.Find(`[data-testid="pool-quota"]`)
	if card.Length() != 1 {
		t.Fatalf("%d shared-quota cards, want 1", card.Length())
	}
	if u, _ := card.Attr("data-used"); u != used {
		t.Errorf("data-used %q, want %q", u, used)
	}
	if l, _ := card.Attr("data-limit"); l != limit {
		t.Errorf("data-limit %q, want %q", l, limit)
	}
	return card
}

// TestPoolCardColours: the shared quota's bar has the key bars' colours:
// indigo below 80 %, amber from 80 %, red at 100 %.
func TestPoolCardColours(t *testing.T) {
	for _, tc := range []struct {
		used   int64
		colour string
	}{{12_340, "bg-indigo-500"}, {80_000, "bg-amber-500"}, {100_000, "bg-red-500"}, {120_000, "bg-red-500"}} {
		doc, _ := render(t, Dashboard(DashboardPage{Layout: keysLayout("Dashboard"), Keys: pooledKeys(tc.used), Plan: pooledPlan, Pool: testPool(tc.used)}))
		card := poolCard(t, doc, formatInt(tc.used), "100000")
		bar := card.Find(`[data-testid="pool-bar"]`)
		if bar.Length() != 1 || !bar.HasClass(tc.colour) {
			t.Errorf("%d of 100000: bar %q, want %s", tc.used, bar.AttrOr("class", ""), tc.colour)
		}
	}
}

func formatInt(n int64) string { return strings.ReplaceAll(formatCount(n), ",", "") }

// TestPooledDashboard: one shared-quota card that says it all; pooled key
// rows show their own count and share, never a per-key quota; a key with
// a quota of its own keeps its bar; the plan card names the quota shared.
func TestPooledDashboard(t *testing.T) {
	doc, _ := render(t, Dashboard(DashboardPage{Layout: keysLayout("Dashboard"), Keys: pooledKeys(12_340), Plan: pooledPlan, Pool: testPool(12_340)}))
	card := poolCard(t, doc, "12340", "100000")
	if got := strings.Join(strings.Fields(card.Find(`[data-testid="pool-quota-line"]`).Text()), " "); got != "Shared quota: 12,340 of 100,000 verifications this period, used by all keys" {
		t.Errorf("pool line %q", got)
	}
	if got := card.Find(`[data-testid="pool-quota-percent"]`).Text(); got != "12% used" {
		t.Errorf("pool percent %q", got)
	}
	if !strings.Contains(card.Text(), "Jan 1, 2027") {
		t.Errorf("pool card %q does not say when it starts again", card.Text())
	}
	rows := doc.Find(`[data-testid="key-row"]`)
	if rows.Length() != 3 {
		t.Fatalf("%d key rows, want 3", rows.Length())
	}
	a := doc.Find(`[data-testid="key-row"][data-key-id="key_a"]`)
	if a.Find(`[data-testid="usage-bar"]`).Length() != 0 || strings.Contains(a.Text(), "/ ") {
		t.Errorf("a pooled key shows a quota of its own: %q", a.Text())
	}
	if u := a.Find(`[data-testid="usage"]`); u.AttrOr("data-pooled", "") != "true" || !strings.Contains(u.Text(), "9,000") {
		t.Errorf("pooled key's usage %q, want its own 9,000", u.Text())
	}
	if got := a.Find(`[data-testid="key-share"]`).Text(); got != "72% share" {
		t.Errorf("pooled key's share %q, want 72%% (9,000 of 12,340)", got)
	}
	c := doc.Find(`[data-testid="key-row"][data-key-id="key_c"]`)
	if bar := c.Find(`[data-testid="usage-bar"]`); bar.Length() != 1 || !bar.HasClass("bg-amber-500") || !strings.Contains(c.Text(), "450 / 500") {
		t.Errorf("the key with its own quota: %q, want its own amber bar, 450 / 500", c.Text())
	}
	if got := doc.Find(`[data-testid="plan-card"]`).Text(); !strings.Contains(got, "Shared quota") || strings.Contains(got, "Quota per key") {
		t.Errorf("plan card %q, want its quota named shared", got)
	}
	// A plan with a quota per key shows no pool and no share.
	doc, _ = render(t, Dashboard(DashboardPage{Layout: keysLayout("Dashboard"), Keys: testKeys(), Plan: testPlan}))
	if doc.Find(`[data-testid="pool-quota"]`).Length() != 0 || doc.Find(`[data-testid="key-share"]`).Length() != 0 {
		t.Error("a quota per key shows a shared quota")
	}
	if got := doc.Find(`[data-testid="plan-card"]`).Text(); !strings.Contains(got, "Quota per key") {
		t.Errorf("plan card %q, want quota per key", got)
	}
}

// TestPooledKeyList: the key list shows the shared quota once and each
// pooled row's share.
func TestPooledKeyList(t *testing.T) {
	doc, _ := render(t, KeysList(KeysPage{Layout: keysLayout("API keys"), Keys: pooledKeys(12_340), Plan: pooledPlan, Pool: testPool(12_340),
		Filter: KeyListFilter{Total: 3}}))
	poolCard(t, doc, "12340", "100000")
	if got := doc.Find(`[data-testid="key-row"][data-key-id="key_b"] [data-testid="key-share"]`).Text(); got != "27% share" {
		t.Errorf("key_b's share %q, want 27%%", got)
	}
	if n := doc.Find(`[data-testid="key-row"] [data-testid="usage-bar"]`).Length(); n != 1 {
		t.Errorf("%d per-key bars, want 1: the key with its own quota", n)
	}
}

// TestPooledKeyDetail: a pooled key's page says the quota is shared and
// shows the pool; a key with its own quota in a pooled account keeps its
// bar and says it is out of the pool.
func TestPooledKeyDetail(t *testing.T) {
	p := testDetail()
	p.Key, p.Plan, p.Pool = pooledKeys(12_340)[0], pooledPlan, testPool(85_000)
	doc, _ := render(t, KeyDetail(p))
	u := doc.Find(`[data-testid="key-usage"]`)
	card := u.Find(`[data-testid="pool-quota"]`)
	if card.Length() != 1 || card.AttrOr("data-used", "") != "85000" || card.AttrOr("data-limit", "") != "100000" {
		t.Fatalf("key page's shared quota: %d, %v", card.Length(), card.Nodes)
	}
	if !card.Find(`[data-testid="pool-bar"]`).HasClass("bg-amber-500") {
		t.Error("the key page's shared quota at 85 % is not amber")
	}
	if got := u.Find(`[data-testid="key-share"]`).Text(); !strings.Contains(got, "no quota of its own") || !strings.Contains(got, "all keys share") {
		t.Errorf("key page share %q", got)
	}
	if u.Find(`[data-testid="usage-bar"]`).Length() != 0 || strings.Contains(u.Text(), "of this period's quota") {
		t.Errorf("a pooled key's page shows a quota of its own: %q", u.Text())
	}
	if !strings.Contains(u.Text(), "9,000") {
		t.Errorf("key page %q lacks the key's own 9,000", u.Text())
	}

	p.Key = pooledKeys(12_340)[2]
	doc, _ = render(t, KeyDetail(p))
	u = doc.Find(`[data-testid="key-usage"]`)
	if u.Find(`[data-testid="pool-quota"]`).Length() != 0 || u.Find(`[data-testid="key-own-quota"]`).Length() != 1 {
		t.Errorf("own-quota key in a pooled account: %q, want its own quota and the note, no pool", u.Text())
	}
	if bar := u.Find(`[data-testid="usage-bar"]`); bar.Length() != 1 || !bar.HasClass("bg-amber-500") {
		t.Error("the own-quota key's bar is missing or not amber at 90 %")
	}

	// Quota per key: the page is as it was.
	doc, _ = render(t, KeyDetail(testDetail()))
	u = doc.Find(`[data-testid="key-usage"]`)
	if u.Find(`[data-testid="pool-quota"]`).Length() != 0 || u.Find(`[data-testid="key-own-quota"]`).Length() != 0 || u.Find(`[data-testid="usage-bar"]`).Length() != 1 {
		t.Errorf("a key with a quota per key: %q", u.Text())
	}
}

// TestPooledPlanCards: billing's cards say "per key" or "shared by all
// keys", and the intro says which.
func TestPooledPlanCards(t *testing.T) {
	p := testBilling("free")
	p.Plans[0].Pooled = true
	p.Current = p.Plans[0]
	doc, _ := render(t, Billing(p))
	if got := doc.Find(`[data-testid="current-plan"] [data-testid="plan-features"]`).Text(); !strings.Contains(got, "per month, shared by all keys") {
		t.Errorf("pooled plan's features %q", got)
	}
	var perKey int
	doc.Find(`[data-testid="plan-features"]`).Each(func(_ int, s *goquery.Selection) {
		if strings.Contains(s.Text(), "per key per month") {
			perKey++
		}
	})
	if perKey != len(p.Plans)-1 {
		t.Errorf("%d cards say per key, want %d", perKey, len(p.Plans)-1)
	}
	if got := doc.Find(`[data-testid="plans-intro"]`).Text(); !strings.Contains(got, "shared by all your keys where a plan says so") {
		t.Errorf("plans intro %q", got)
	}
	doc, _ = render(t, Billing(testBilling("free")))
	if got := doc.Find(`[data-testid="plans-intro"]`).Text(); got != "Every key gets its own rate limit and monthly quota from your plan." {
		t.Errorf("plans intro without a pooled plan %q", got)
	}
}

// TestPooledResponseSample: the quickstart's example answer of a pooled
// plan says its quota is the account's; a per-key plan's is as it was.
func TestPooledResponseSample(t *testing.T) {
	got := verifyResponseSample(Plan{ID: "team", Burst: 20, MonthlyQuota: 1000, Pooled: true})
	if !strings.Contains(got, `"quota": { "limit": 1000, "remaining": 999, "scope": "account", … }`) {
		t.Errorf("pooled sample:\n%s", got)
	}
	if got := verifyResponseSample(Plan{ID: "free", Burst: 20, MonthlyQuota: 1000}); strings.Contains(got, "scope") {
		t.Errorf("per-key sample names a scope:\n%s", got)
	}
}
