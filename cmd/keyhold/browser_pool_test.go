package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keyhold/keyhold/internal/plans"
)

// TestBrowserPooledQuota: on a plan whose quota all of an account's keys
// share, the dashboard shows one shared-quota bar (amber at 85 %) with
// each key's own count and share, the key page says the quota is shared
// and shows the pool, the pool's notice shows on both, billing's plan
// card says "shared by all keys", and every page fits a phone.
// KEYHOLD_SCREENSHOTS=dir writes each page at desktop and phone width
// there, to look at.
func TestBrowserPooledQuota(t *testing.T) {
	t.Parallel()
	a := MustRun(t, map[string]string{"KEYHOLD_PLANS_FILE": writePlansFile(t,
		plans.Plan{ID: "team", Name: "Team", Price: "$0", RatePerSecond: 10000, Burst: 10000, MonthlyQuota: 100, MaxKeys: 5, QuotaScope: plans.ScopeAccount},
		plans.Plan{ID: "pro", Name: "Pro", Price: "$29/mo", StripePriceID: "price_pro", RatePerSecond: 10000, Burst: 10000, MonthlyQuota: 100_000, MaxKeys: 10},
	)})
	br := MustTab(t, a)
	br.MustLogin("pool@example.com")
	secrets := map[string]string{}
	for _, name := range []string{"Production", "Staging"} {
		br.Do("create "+name,
			chromedp.Navigate(a.URL+"/keys/new"),
			chromedp.SendKeys(chromedp.CSS(`form[action="/keys"] input[name="name"]`), name),
			chromedp.Click(chromedp.CSS(`form[action="/keys"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-key"]`)),
		)
		secrets[name] = br.Text(`[data-testid="new-key"]`)
	}
	var prodID string
	for i := range 85 {
		name := "Production"
		if i >= 60 {
			name = "Staging"
		}
		ans := mustVerify(t, a, secrets[name])
		wantCode(t, "a call within the shared quota", ans, 200, "VALID")
		if name == "Production" {
			prodID = ans.KeyID
		}
	}
	// Usage reaches the database within a flush.
	deadline := time.Now().Add(15 * time.Second)
	for {
		br.Do("the dashboard", chromedp.Navigate(a.URL+"/dashboard"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="pool-quota"]`)))
		// The pool's count may be the verifier's live one; each key's own
		// is the database's, there after the flush.
		used, err := chromedp.Run(br.ctx, chromedp.Evaluate[string](`document.querySelector('[data-testid="pool-quota"]').dataset.used`))
		if err != nil {
			t.Fatal(err)
		}
		share := br.Text(`[data-testid="key-row"] [data-testid="key-share"]`)
		if used == "85" && share != "0% share" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shared quota shows %s used, a key's share %q; want 85 and the keys' counts within 15 s", used, share)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if limit, _ := chromedp.Run(br.ctx, chromedp.Evaluate[string](`document.querySelector('[data-testid="pool-quota"]').dataset.limit`)); limit != "100" {
		t.Errorf("shared quota limit %q, want 100", limit)
	}
	if line := br.Text(`[data-testid="pool-quota-line"]`); !strings.Contains(line, "85 of 100 verifications this period, used by all keys") {
		t.Errorf("pool line %q", line)
	}
	if n := br.Count(`[data-testid="pool-bar"].bg-amber-500`); n != 1 {
		t.Errorf("%d amber shared-quota bars at 85 %%, want 1", n)
	}
	if n := br.Count(`[data-testid="key-row"] [data-testid="usage-bar"]`); n != 0 {
		t.Errorf("%d per-key quota bars on a shared quota, want none", n)
	}
	if share := br.Text(`[data-testid="key-row"][data-key-id="` + prodID + `"] [data-testid="key-share"]`); share != "70% share" {
		t.Errorf("Production's share %q, want 70%% (60 of 85)", share)
	}
	if text := br.Text(`[data-testid="notice"]`); !strings.Contains(text, "Your account's shared quota is 85 % used") {
		t.Errorf("dashboard notice %q, want the shared quota's", text)
	}
	if q := br.Text(`[data-testid="plan-card"]`); !strings.Contains(q, "Shared quota") {
		t.Errorf("plan card %q, want its quota named shared", q)
	}
	shots := os.Getenv("KEYHOLD_SCREENSHOTS")
	pages := []struct{ name, path, wait string }{
		{"dashboard", "/dashboard", `[data-testid="pool-quota"]`},
		{"key", "/keys/" + prodID, `[data-testid="pool-quota"]`},
		{"keys", "/keys", `[data-testid="pool-quota"]`},
		{"billing", "/billing", `[data-testid="current-plan"]`},
	}
	for _, w := range []struct {
		name          string
		width, height int64
		mobile        bool
	}{{"desktop", 1280, 900, false}, {"phone", 375, 800, true}} {
		if w.mobile {
			br.Do("phone width", chromedp.EmulateViewport(w.width, w.height, chromedp.EmulateMobile, chromedp.EmulateTouch))
		} else {
			br.Do("desktop width", chromedp.EmulateViewport(w.width, w.height))
		}
		for _, p := range pages {
			br.Do(p.name, chromedp.Navigate(a.URL+p.path), chromedp.WaitVisible(chromedp.CSS(p.wait)))
			fits, err := chromedp.Run(br.ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
			if err != nil || !fits {
				t.Errorf("%s at %d px is wider than the page (err %v)", p.name, w.width, err)
			}
			if shots != "" {
				buf, err := chromedp.Run(br.ctx, chromedp.CaptureScreenshot())
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(shots, p.name+"-"+w.name+".png"), buf, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	br.Do("desktop width", chromedp.EmulateViewport(1280, 900))
	br.Do("the key page", chromedp.Navigate(a.URL+"/keys/"+prodID), chromedp.WaitVisible(chromedp.CSS(`[data-testid="key-usage"] [data-testid="pool-quota"]`)))
	if share := br.Text(`[data-testid="key-usage"] [data-testid="key-share"]`); !strings.Contains(share, "draws on the quota all keys share, and made 70% of their use") {
		t.Errorf("key page share %q", share)
	}
	if text := br.Text(`[data-testid="notice"]`); !strings.Contains(text, "shared quota") {
		t.Errorf("key page notice %q, want the shared quota's", text)
	}
	br.Do("billing", chromedp.Navigate(a.URL+"/billing"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="current-plan"]`)))
	if f := br.Text(`[data-testid="current-plan"] [data-testid="plan-features"]`); !strings.Contains(f, "100 verifications per month, shared by all keys") {
		t.Errorf("current plan's features %q", f)
	}
	if f := br.Text(`[data-plan-id="pro"] [data-testid="plan-features"]`); !strings.Contains(f, "100,000 verifications per key per month") {
		t.Errorf("Pro's features %q, want its quota per key", f)
	}
	// The verifier heard the pool cross 80 %: one notice under the
	// account, and its quota.threshold event names no key.
	db := noticeDB(t, a.Env)
	deadline = time.Now().Add(15 * time.Second)
	for {
		var n int
		var data string
		err := db.QueryRow(`SELECT COUNT(*), COALESCE(MAX(e.data), '') FROM quota_notices q JOIN events e ON e.type = 'quota.threshold' AND e.account_id = q.account_id WHERE q.percent = 80 AND q.subject = q.account_id`).Scan(&n, &data)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			if !strings.Contains(data, `"key_id":null`) || !strings.Contains(data, `"scope":"account"`) {
				t.Errorf("the pool's event data %s, want key_id null and scope account", data)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d notices of the pool's 80 %% with their event after 15 s, want 1", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	br.CheckConsole()
}
