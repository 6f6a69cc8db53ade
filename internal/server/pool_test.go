package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/quota"
	"github.com/keyhold/keyhold/internal/server"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/team"
	"github.com/keyhold/keyhold/internal/verify"
)

// withPooledPlans puts the server on a catalog whose free plan (where
// every account starts) has one monthly quota of 100 shared by all of an
// account's keys, rebuilding the services that read the catalog.
func withPooledPlans(tb testing.TB) option {
	return func(c *server.Config, db *store.DB) {
		cat, err := plans.New([]plans.Plan{
			{ID: "free", Name: "Team", Price: "$0", RatePerSecond: 100, Burst: 100, MonthlyQuota: 100, MaxKeys: 5, QuotaScope: plans.ScopeAccount},
			{ID: "pro", Name: "Pro", Price: "$29/mo", StripePriceID: "price_keyhold_pro", RatePerSecond: 100, Burst: 100, MonthlyQuota: 100_000, MaxKeys: 10},
		})
		if err != nil {
			tb.Fatal(err)
		}
		ks, err := keys.NewService(keys.Config{Store: db, Plans: cat})
		if err != nil {
			tb.Fatal(err)
		}
		v, err := verify.New(verify.Config{Loader: db, Plans: cat})
		if err != nil {
			tb.Fatal(err)
		}
		ks.Subscribe(func(e keys.Event) { v.InvalidateKey(e.KeyID) })
		b, err := billing.New(billing.Config{Store: db, Plans: cat, BaseURL: c.BaseURL, WebhookSecret: testWebhookSecret})
		if err != nil {
			tb.Fatal(err)
		}
		b.Subscribe(v.InvalidateAccount)
		tm, err := team.NewService(team.Config{Store: db, Plans: cat, NormalizeEmail: auth.NormalizeEmail})
		if err != nil {
			tb.Fatal(err)
		}
		c.Plans, c.Keys, c.Verifier, c.Billing, c.Team = cat, ks, v, b, tm
	}
}

// TestPooledPages: a pooled account's dashboard, key pages and operator
// pages show the shared quota (85 of 100 here, amber) with each pooled
// key's own count and share; a key with a quota override keeps its own
// bar and notice; the shared quota's notice is on the dashboard and every
// key page, and its owner may dismiss it where another account may not.
func TestPooledPages(t *testing.T) {
	h := MustServer(t, withPooledPlans(t))
	ctx := context.Background()
	b := h.Browser()
	b.MustSignup("ada@example.com")
	ada, err := h.DB.UserByEmail(ctx, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	acct := ada.ID // the personal account shares its owner's id
	prod, _ := b.MustCreateKey("Production", nil)
	stag, _ := b.MustCreateKey("Staging", nil)
	own, _ := b.MustCreateKey("Partner", nil)
	q := int64(50)
	if err := h.DB.SetKeyOverrides(ctx, own, nil, nil, &q); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	w := quota.WindowAt(now, quota.Window{})
	hour := now.Truncate(time.Hour)
	if err := h.DB.AddUsage(ctx, []verify.Usage{
		{KeyID: prod, AccountID: acct, Hour: hour, WindowStart: w.Start, Valid: 60, Cost: 60},
		{KeyID: stag, AccountID: acct, Hour: hour, WindowStart: w.Start, Valid: 25, Cost: 25},
		{KeyID: own, AccountID: acct, Hour: hour, WindowStart: w.Start, Valid: 45, Cost: 45}, // 90 % of its own 50
	}); err != nil {
		t.Fatal(err)
	}

	p := b.mustPage("/dashboard")
	pool := p.Doc.Find(`[data-testid="pool-quota"]`)
	if pool.Length() != 1 || pool.AttrOr("data-used", "") != "85" || pool.AttrOr("data-limit", "") != "100" {
		t.Fatalf("dashboard's shared quota: %d cards, used %q of %q; want one, 85 of 100", pool.Length(), pool.AttrOr("data-used", ""), pool.AttrOr("data-limit", ""))
	}
	if !pool.Find(`[data-testid="pool-bar"]`).HasClass("bg-amber-500") {
		t.Error("the shared quota at 85 % is not amber")
	}
	if got := p.Doc.Find(`[data-testid="key-row"][data-key-id="` + prod + `"] [data-testid="key-share"]`).Text(); got != "70% share" {
		t.Errorf("Production's share %q, want 70%% share (60 of 85)", got)
	}
	ownRow := p.Doc.Find(`[data-testid="key-row"][data-key-id="` + own + `"]`)
	if bar := ownRow.Find(`[data-testid="usage-bar"]`); bar.Length() != 1 || !bar.HasClass("bg-amber-500") || !strings.Contains(ownRow.Text(), "45 / 50") {
		t.Errorf("the key with an override: %q, want its own amber bar, 45 / 50", strings.Join(strings.Fields(ownRow.Text()), " "))
	}
	ids := noticeIDs(p)
	poolID := ""
	for _, id := range ids {
		if strings.HasPrefix(id, "q80."+acct+".") {
			poolID = id
		}
	}
	if len(ids) != 2 || poolID == "" || !hasPrefix(ids, "q80."+own+".") {
		t.Fatalf("dashboard notices %v, want the shared quota's 80 %% and the own-quota key's", ids)
	}
	if text := p.Doc.Find(`[data-notice-id="` + poolID + `"]`).Text(); !strings.Contains(text, "Your account's shared quota is 85 % used") || !strings.Contains(text, "At this pace") {
		t.Errorf("the shared quota's notice %q", strings.Join(strings.Fields(text), " "))
	}

	for _, id := range []string{prod, stag, own} {
		kp := b.mustPage("/keys/" + id)
		if !hasPrefix(noticeIDs(kp), "q80."+acct+".") {
			t.Errorf("key %s's page: notices %v, want the shared quota's", id, noticeIDs(kp))
		}
		u := kp.Doc.Find(`[data-testid="key-usage"]`)
		if id == own {
			if u.Find(`[data-testid="pool-quota"]`).Length() != 0 || u.Find(`[data-testid="usage-bar"]`).Length() != 1 || u.Find(`[data-testid="key-own-quota"]`).Length() != 1 {
				t.Errorf("the own-quota key's page: %q, want its own bar", strings.Join(strings.Fields(u.Text()), " "))
			}
			continue
		}
		if c := u.Find(`[data-testid="pool-quota"]`); c.AttrOr("data-used", "") != "85" || u.Find(`[data-testid="usage-bar"]`).Length() != 0 {
			t.Errorf("key %s's page: shared quota %q, %d own bars; want 85, none", id, c.AttrOr("data-used", ""), u.Find(`[data-testid="usage-bar"]`).Length())
		}
	}

	// Billing's card of the plan says the quota is shared.
	if got := b.mustPage("/billing").Doc.Find(`[data-testid="current-plan"] [data-testid="plan-features"]`).Text(); !strings.Contains(got, "shared by all keys") {
		t.Errorf("current plan's features %q", got)
	}

	// Another account cannot dismiss ada's shared quota's notice.
	bob := h.Browser()
	bob.MustSignup("bob@example.com")
	if r := bob.dismiss(poolID); r.StatusCode != http.StatusNotFound {
		t.Errorf("bob dismissing ada's shared quota notice: %d, want 404", r.StatusCode)
	}
	if r := b.dismiss(poolID); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("dismissing the shared quota's notice: %d", r.StatusCode)
	}
	if ids := noticeIDs(b.mustPage("/dashboard")); len(ids) != 1 || !hasPrefix(ids, "q80."+own+".") {
		t.Errorf("after dismissing the shared quota's notice: %v, want only the own-quota key's", ids)
	}

	// The operator's pages.
	op := h.MustAdmin("op@example.com")
	ap := op.mustPage("/admin/accounts/" + acct)
	if c := ap.Doc.Find(`[data-testid="pool-quota"]`); c.Length() != 1 || c.AttrOr("data-used", "") != "85" {
		t.Errorf("operator's account page: %d shared quotas, used %q", c.Length(), c.AttrOr("data-used", ""))
	}
	kp := op.mustPage("/admin/keys/" + prod)
	if got := kp.Doc.Find(`[data-testid="limit-quota"]`).Text(); got != "100 a month" || kp.Doc.Find(`[data-testid="limit-quota-shared"]`).Length() != 1 {
		t.Errorf("operator's pooled key page: quota %q, want 100 a month, shared", got)
	}
	if c := kp.Doc.Find(`[data-testid="key-limits"] [data-testid="pool-quota"]`); c.AttrOr("data-used", "") != "85" {
		t.Errorf("operator's pooled key page: shared quota used %q, want 85", c.AttrOr("data-used", ""))
	}
	kp = op.mustPage("/admin/keys/" + own)
	if got := kp.Doc.Find(`[data-testid="limit-quota"]`).Text(); got != "50 a month" || kp.Doc.Find(`[data-testid="key-limits"] [data-testid="pool-quota"]`).Length() != 0 {
		t.Errorf("operator's own-quota key page: quota %q, want 50 a month, no shared quota", got)
	}
}

// noticeIDs are the ids of a page's notices.
func noticeIDs(p *page) []string {
	var out []string
	for _, n := range p.Doc.Find(`[data-testid="notice"]`).Nodes {
		for _, a := range n.Attr {
			if a.Key == "data-notice-id" {
				out = append(out, a.Val)
			}
		}
	}
	return out
}

func hasPrefix(ids []string, prefix string) bool {
	for _, id := range ids {
		if strings.HasPrefix(id, prefix) {
			return true
		}
	}
	return false
}

// dismiss posts a notice's dismissal with the CSRF token of the dashboard.
func (b *browser) dismiss(id string) *page {
	b.h.t.Helper()
	p := b.Get("/dashboard")
	tok, ok := p.Doc.Find(`form input[name="_csrf"]`).First().Attr("value")
	if !ok {
		b.h.t.Fatal("the dashboard has no form with a _csrf field")
	}
	return b.Post("/notices/"+id+"/dismiss", url.Values{"_csrf": {tok}, "back": {"/dashboard"}})
}
