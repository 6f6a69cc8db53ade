package templates

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

// testNow is the request time of the key pages in these tests.
var testNow = time.Date(2026, 3, 4, 15, 30, 0, 0, time.UTC)

// testSecret looks like a real key: kh_live_ + 32 + 6 base62 characters.
const testSecret = "kh_live_4fGh7Jk2Lm9Np3Qr5St8Vw1Xy6Za0Bc3De2Ab9Zq81"

func tptr(t time.Time) *time.Time { return &t }

func keysLayout(title string) Layout {
	l := testLayout(title, "keys", testAccount(false))
	l.Now = testNow
	return l
}

// testKeys are three keys: active and used, expiring; revoked; expired and
// never used.
func testKeys() []KeyRow {
	return []KeyRow{
		{
			ID: "key_a", Name: "Production backend", Display: "kh_live_…o5p6", Scopes: []string{"read", "write"},
			Status: KeyActive, CreatedAt: testNow.Add(-40 * 24 * time.Hour), LastUsed: tptr(testNow.Add(-3 * time.Minute)),
			ExpiresAt: tptr(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)), Used: 500, Quota: 1000,
		},
		{
			ID: "key_b", Name: "Old mobile app", Display: "kh_live_…Qw3e", Status: KeyRevoked,
			CreatedAt: testNow.Add(-200 * 24 * time.Hour), LastUsed: tptr(testNow.Add(-30 * 24 * time.Hour)),
			RevokedAt: tptr(testNow.Add(-29 * 24 * time.Hour)), Used: 0, Quota: 1000,
		},
		{
			ID: "key_c", Name: "Partner", Display: "kh_live_…Pp0o", Scopes: []string{"a", "b", "c", "d", "e", "f"}, Status: KeyExpired,
			CreatedAt: testNow.Add(-100 * 24 * time.Hour), ExpiresAt: tptr(testNow.Add(-48 * time.Hour)), Used: 1000, Quota: 1000,
		},
	}
}

var testPlan = Plan{Name: "Free", MaxKeys: 3, LiveKeys: 2, MonthlyQuota: 1000, RatePerSec: 10, Burst: 20}

var fullPlan = Plan{Name: "Free", MaxKeys: 3, LiveKeys: 3, MonthlyQuota: 1000, RatePerSec: 10, Burst: 20, Upgrades: true}

func testDetail() KeyDetailPage {
	k := testKeys()[0]
	return KeyDetailPage{
		Layout: keysLayout(k.Name), Key: k, Plan: testPlan, BaseURL: "https://keys.example.com",
		Form: KeyForm{Name: k.Name, Scopes: "read, write", Meta: `{"team": "billing"}`, Expires: "2026-06-01"},
		Meta: "{\n  \"team\": \"billing\"\n}",
		GraceOptions: []GraceOption{
			{Value: "0", Label: "None: stop the old secret now"}, {Value: "1h", Label: "1 hour"},
			{Value: "24h", Label: "24 hours"}, {Value: "168h", Label: "7 days"},
		},
		Audit: []AuditRow{
			{Action: "key.rotated", Detail: "Rotated kh_live_…o5p5 → kh_live_…o5p6", IP: "203.0.113.7", At: testNow.Add(-2 * time.Hour)},
			{Action: "key.renamed", Detail: `Renamed "Prod" to "Production backend"`, IP: "2001:db8::1", At: testNow.Add(-26 * time.Hour)},
			{Action: "key.edited", Detail: "Scopes: read → read, write", At: testNow.Add(-3 * 24 * time.Hour)},
			{Action: "key.revoked", At: testNow.Add(-time.Minute)},
			{Action: "key.created", Detail: `Created "Prod"`, At: testNow.Add(-40 * 24 * time.Hour)},
		},
	}
}

func revokedDetail() KeyDetailPage {
	p := testDetail()
	p.Key = testKeys()[1]
	p.Form = KeyForm{Name: p.Key.Name}
	p.Audit = nil
	return p
}

func testCreated(rotated bool, grace *time.Time) KeyCreatedPage {
	return KeyCreatedPage{
		Layout: keysLayout("Key created"), Key: testKeys()[0], Secret: testSecret,
		BaseURL: "https://keys.example.com/", Rotated: rotated, GraceUntil: grace,
	}
}

// keyPages are renderings of every key page, for the shared page checks.
func keyPages() []struct {
	name  string
	title string
	forms int
	c     templ.Component
} {
	dash := DashboardPage{Layout: testLayout("Dashboard", "dashboard", testAccount(false)), BaseURL: "https://keys.example.com", Keys: testKeys(), Plan: testPlan}
	return []struct {
		name  string
		title string
		forms int
		c     templ.Component
	}{
		{"keys", "API keys · Keyhold", 1, KeysList(KeysPage{Layout: keysLayout("API keys"), Keys: testKeys(), Plan: testPlan})},
		{"keys empty", "API keys · Keyhold", 1, KeysList(KeysPage{Layout: keysLayout("API keys"), Plan: testPlan})},
		{"keys at limit", "API keys · Keyhold", 1, KeysList(KeysPage{Layout: keysLayout("API keys"), Keys: testKeys(), Plan: fullPlan})},
		{"key new", "New key · Keyhold", 2, KeyNew(KeyNewPage{Layout: keysLayout("New key"), Plan: testPlan})},
		{"key new at limit", "New key · Keyhold", 2, KeyNew(KeyNewPage{Layout: keysLayout("New key"), Plan: fullPlan, Error: "The Free plan allows 3 keys."})},
		{"key created", "Key created · Keyhold", 1, KeyCreated(testCreated(false, nil))},
		{"key rotated", "Key created · Keyhold", 1, KeyCreated(testCreated(true, tptr(testNow.Add(time.Hour))))},
		{"key detail", "Production backend · Keyhold", 4, KeyDetail(testDetail())},
		{"key detail revoked", "Production backend · Keyhold", 1, KeyDetail(revokedDetail())},
		{"key detail in grace", "Production backend · Keyhold", 5, KeyDetail(graceDetail())},
		{"dashboard with keys", "Dashboard · Keyhold", 1, Dashboard(dash)},
	}
}

func TestKeysListRows(t *testing.T) {
	keys := testKeys()
	doc, _ := render(t, KeysList(KeysPage{Layout: keysLayout("API keys"), Keys: keys, Plan: testPlan}))
	rows := doc.Find(`[data-testid="key-row"]`)
	if rows.Length() != len(keys) {
		t.Fatalf("%d key rows, want %d", rows.Length(), len(keys))
	}
	rows.Each(func(i int, row *goquery.Selection) {
		k := keys[i]
		if got, _ := row.Attr("data-key-id"); got != k.ID {
			t.Errorf("row %d: data-key-id = %q, want %q", i, got, k.ID)
		}
		name := row.Find(`a[data-testid="key-name"]`)
		if got, _ := name.Attr("href"); got != "/keys/"+k.ID || name.Text() != k.Name {
			t.Errorf("row %d: name link = %q → %q", i, name.Text(), got)
		}
		if got := row.Find(`[data-testid="key-display"]`); got.Text() != k.Display || !got.HasClass("font-mono") {
			t.Errorf("row %d: display = %q (monospace %v)", i, got.Text(), got.HasClass("font-mono"))
		}
		if got := row.Find(`[data-testid="key-status"]`).Text(); got != statusLabel(k.Status) {
			t.Errorf("row %d: status = %q", i, got)
		}
	})

	first := rows.Eq(0)
	var scopes []string
	first.Find(`[data-testid="scopes"] li`).Each(func(_ int, s *goquery.Selection) { scopes = append(scopes, s.Text()) })
	if strings.Join(scopes, ",") != "read,write" {
		t.Errorf("scopes = %q", scopes)
	}
	lastUsed := first.Find("time").FilterFunction(func(_ int, s *goquery.Selection) bool { return s.Text() == "3 minutes ago" })
	if lastUsed.Length() != 1 {
		t.Fatal("no <time> saying 3 minutes ago")
	}
	if got, _ := lastUsed.Attr("title"); got != "2026-03-04 15:27:00 UTC" {
		t.Errorf("last used title = %q", got)
	}
	if got, _ := lastUsed.Attr("datetime"); got != "2026-03-04T15:27:00Z" {
		t.Errorf("last used datetime = %q", got)
	}
	if !strings.Contains(first.Text(), "Jun 1, 2026") {
		t.Error("expiry date not shown")
	}

	never := rows.Eq(2)
	if got := strings.Count(never.Text(), "never"); got != 1 {
		t.Errorf("never-used key says never %d times, want 1 (last used)", got)
	}
	if n := rows.Eq(1).Find(`[data-testid="scopes"]`).Length(); n != 0 || !strings.Contains(rows.Eq(1).Text(), "No scopes") {
		t.Error("key without scopes does not say so")
	}
	more := rows.Eq(2).Find(`[data-testid="scopes"] li`)
	if more.Length() != 4 || !strings.Contains(more.Last().Text(), "+3") {
		t.Errorf("six scopes show %d pills, last %q; want 3 and +3", more.Length(), more.Last().Text())
	}
	if got, _ := more.Last().Attr("title"); got != "a, b, c, d, e, f" {
		t.Errorf("+3 title = %q", got)
	}
}

func TestStatusBadgeColours(t *testing.T) {
	tests := []struct{ status, class, label string }{
		{KeyActive, "badge-success", "Active"},
		{KeyRevoked, "badge-danger", "Revoked"},
		{KeyExpired, "badge-warning", "Expired"},
		{"paused", "badge-gray", "Paused"},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			doc, _ := render(t, statusBadge(tt.status))
			b := doc.Find(`[data-testid="key-status"]`)
			if !b.HasClass("badge") || !b.HasClass(tt.class) || b.Text() != tt.label {
				t.Errorf("badge = %q class %q, want %q with %s", b.Text(), b.AttrOr("class", ""), tt.label, tt.class)
			}
		})
	}
}

func TestUsageBar(t *testing.T) {
	tests := []struct {
		name        string
		used, quota int64
		colour      string
		width       string
		text        string
	}{
		{"unused", 0, 1000, "bg-indigo-500", "w-0", "0 / 1,000"},
		{"a little shows one step", 1, 1000, "bg-indigo-500", "w-[5%]", "1 / 1,000"},
		{"half", 500, 1000, "bg-indigo-500", "w-[50%]", "500 / 1,000"},
		{"just under 80", 799, 1000, "bg-indigo-500", "w-[80%]", "799 / 1,000"},
		{"80 turns amber", 800, 1000, "bg-amber-500", "w-[80%]", "800 / 1,000"},
		{"99 amber", 990, 1000, "bg-amber-500", "w-full", "990 / 1,000"},
		{"100 turns red", 1000, 1000, "bg-red-500", "w-full", "1,000 / 1,000"},
		{"over stays full", 2500, 1000, "bg-red-500", "w-full", "2,500 / 1,000"},
		{"big numbers", 84000, 100000, "bg-amber-500", "w-[85%]", "84,000 / 100,000"},
	}
	colours := []string{"bg-indigo-500", "bg-amber-500", "bg-red-500"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := render(t, usageBar(tt.used, tt.quota))
			bar := doc.Find(`[data-testid="usage-bar"]`)
			if bar.Length() != 1 {
				t.Fatalf("%d bars, want 1", bar.Length())
			}
			for _, c := range colours {
				if got := bar.HasClass(c); got != (c == tt.colour) {
					t.Errorf("class %s = %v, want only %s", c, got, tt.colour)
				}
			}
			if !bar.HasClass(tt.width) {
				t.Errorf("class = %q, want width %s", bar.AttrOr("class", ""), tt.width)
			}
			if got := strings.Join(strings.Fields(doc.Find(`[data-testid="usage"]`).Text()), " "); !strings.HasPrefix(got, tt.text) {
				t.Errorf("text = %q, want it to start with %q", got, tt.text)
			}
			meter := doc.Find(`[role="progressbar"]`)
			if got, _ := meter.Attr("aria-valuemax"); got != fmt.Sprint(tt.quota) {
				t.Errorf("aria-valuemax = %q", got)
			}
		})
	}

	t.Run("no quota hides the bar", func(t *testing.T) {
		doc, _ := render(t, usageBar(1234, 0))
		if doc.Find(`[data-testid="usage-bar"]`).Length() != 0 || doc.Find(`[role="progressbar"]`).Length() != 0 {
			t.Error("bar shown without a quota")
		}
		if got := doc.Find(`[data-testid="usage"]`).Text(); !strings.Contains(got, "1,234") {
			t.Errorf("count = %q", got)
		}
	})
}

// TestUsageWidthsAreBuilt checks that the built stylesheet has every width
// class a usage bar may use: they exist only as strings in keys.go.
func TestUsageWidthsAreBuilt(t *testing.T) {
	css, err := os.ReadFile("../static/css/app.css")
	if err != nil {
		t.Fatal(err)
	}
	escape := strings.NewReplacer("[", `\[`, "]", `\]`, "%", `\%`)
	for _, w := range usageWidths {
		if !strings.Contains(string(css), "."+escape.Replace(w)+"{") {
			t.Errorf("static/css/app.css has no .%s: run npm run build", w)
		}
	}
}

func TestKeysListPlan(t *testing.T) {
	t.Run("below the limit", func(t *testing.T) {
		doc, _ := render(t, KeysList(KeysPage{Layout: keysLayout("API keys"), Keys: testKeys(), Plan: testPlan}))
		if got := doc.Find("h1").Next().Text(); got != "2 of 3 keys used on the Free plan" {
			t.Errorf("plan line = %q", got)
		}
		if got, _ := doc.Find(`a[data-testid="new-key-button"]`).Attr("href"); got != "/keys/new" {
			t.Errorf("new key link = %q", got)
		}
		if doc.Find(`[data-testid="plan-limit"]`).Length() != 0 {
			t.Error("limit note below the limit")
		}
	})
	t.Run("at the limit", func(t *testing.T) {
		doc, _ := render(t, KeysList(KeysPage{Layout: keysLayout("API keys"), Keys: testKeys(), Plan: fullPlan}))
		if got := doc.Find("h1").Next().Text(); got != "3 of 3 keys used on the Free plan" {
			t.Errorf("plan line = %q", got)
		}
		if doc.Find(`a[href="/keys/new"]`).Length() != 0 {
			t.Error("a link to /keys/new at the limit")
		}
		if got, _ := doc.Find(`[data-testid="new-key-button"]`).Attr("aria-disabled"); got != "true" {
			t.Errorf("new key button aria-disabled = %q", got)
		}
		note := doc.Find(`[data-testid="plan-limit"]`)
		if !strings.Contains(note.Text(), "The Free plan allows 3 keys") || note.Find(`a[href="/billing"]`).Length() != 1 {
			t.Errorf("limit note = %q, want the plan's limit and a link to /billing", note.Text())
		}
	})
	t.Run("no limit", func(t *testing.T) {
		if got := keysUsedLine(Plan{LiveKeys: 1}); got != "1 key on your plan" {
			t.Errorf("keysUsedLine = %q", got)
		}
	})
}

func TestKeysListEmpty(t *testing.T) {
	doc, _ := render(t, KeysList(KeysPage{Layout: keysLayout("API keys"), Plan: testPlan}))
	if doc.Find(`[data-testid="key-row"]`).Length() != 0 || doc.Find("table").Length() != 0 {
		t.Error("a table without keys")
	}
	empty := doc.Find(`[data-testid="empty-state"]`)
	if !strings.Contains(empty.Text(), "No API keys yet") || empty.Find(`a[href="/keys/new"]`).Length() != 1 {
		t.Errorf("empty state = %q, want a way to /keys/new", strings.TrimSpace(empty.Text()))
	}
}

func TestKeyNewForm(t *testing.T) {
	form := KeyForm{Name: "Prod", Scopes: "read, write", Meta: `{"a": 1}`, Expires: "2026-12-31"}
	doc, _ := render(t, KeyNew(KeyNewPage{Layout: keysLayout("New key"), Form: form, Plan: testPlan}))
	f := doc.Find(`form[action="/keys"][method="post"]`)
	if f.Length() != 1 {
		t.Fatal("no form posting to /keys")
	}
	fields := []struct {
		sel, value, typ string
	}{
		{`input[name="name"]`, "Prod", "text"},
		{`input[name="scopes"]`, "read, write", "text"},
		{`input[name="expires"]`, "2026-12-31", "date"},
	}
	for _, fl := range fields {
		el := f.Find(fl.sel)
		if el.Length() != 1 {
			t.Errorf("no %s", fl.sel)
			continue
		}
		if got, _ := el.Attr("value"); got != fl.value {
			t.Errorf("%s value = %q, want %q", fl.sel, got, fl.value)
		}
		if got, _ := el.Attr("type"); got != fl.typ {
			t.Errorf("%s type = %q, want %q", fl.sel, got, fl.typ)
		}
		id, _ := el.Attr("id")
		if doc.Find(`label[for="`+id+`"]`).Length() != 1 {
			t.Errorf("%s has no label", fl.sel)
		}
	}
	name := f.Find(`input[name="name"]`)
	if _, ok := name.Attr("required"); !ok {
		t.Error("name is not required")
	}
	if got, _ := name.Attr("maxlength"); got != "64" {
		t.Errorf("name maxlength = %q", got)
	}
	if got, _ := f.Find(`input[name="scopes"]`).Attr("placeholder"); got != "read, write" {
		t.Errorf("scopes placeholder = %q", got)
	}
	meta := f.Find(`textarea[name="meta"]`)
	if meta.Length() != 1 || meta.Text() != `{"a": 1}` {
		t.Errorf("meta textarea = %q", meta.Text())
	}
	for _, n := range []string{"scopes", "meta", "expires"} {
		el := f.Find(`[name="` + n + `"]`)
		if _, ok := el.Attr("required"); ok {
			t.Errorf("%s is required", n)
		}
		hint, _ := el.Attr("aria-describedby")
		if hint == "" || strings.TrimSpace(doc.Find("#"+hint).Text()) == "" {
			t.Errorf("%s has no hint", n)
		}
	}
	hint, _ := f.Find(`input[name="expires"]`).Attr("aria-describedby")
	if got := doc.Find("#" + hint).Text(); got != "The last day the key works, UTC." {
		t.Errorf("expires hint = %q", got)
	}
	if _, disabled := f.Find(`button[type="submit"]`).Attr("disabled"); disabled {
		t.Error("submit disabled below the limit")
	}
	if n := doc.Find(`[role="alert"]`).Length(); n != 0 {
		t.Errorf("%d alerts without an error", n)
	}
	if doc.Find(`a[href="/keys"]`).Length() == 0 {
		t.Error("no way back to /keys")
	}
}

func TestKeyNewError(t *testing.T) {
	doc, _ := render(t, KeyNew(KeyNewPage{Layout: keysLayout("New key"), Form: KeyForm{Name: "x"}, Error: "Metadata must be a JSON object.", Plan: testPlan}))
	alert := doc.Find(`form [role="alert"]`)
	if alert.Length() != 1 || strings.TrimSpace(alert.Text()) != "Metadata must be a JSON object." {
		t.Errorf("alerts = %q", alert.Text())
	}
}

func TestKeyNewAtLimit(t *testing.T) {
	doc, _ := render(t, KeyNew(KeyNewPage{Layout: keysLayout("New key"), Plan: fullPlan}))
	alert := doc.Find(`[role="alert"][data-testid="plan-limit"]`)
	if alert.Length() != 1 {
		t.Fatal("no plan-limit alert")
	}
	if !strings.Contains(alert.Text(), "The Free plan allows 3 keys") {
		t.Errorf("alert = %q, want it to name the plan and its limit", alert.Text())
	}
	if alert.Find(`a[href="/billing"]`).Length() != 1 {
		t.Error("alert does not link to /billing")
	}
	if _, disabled := doc.Find(`form[action="/keys"] button[type="submit"]`).Attr("disabled"); !disabled {
		t.Error("submit enabled at the limit")
	}
}

// Without Stripe nothing can be bought: the at-limit messages of the key
// pages and the dashboard offer no upgrade, only what the user can do.
func TestAtLimitWithoutUpgrades(t *testing.T) {
	off := fullPlan
	off.Upgrades = false
	pages := []struct {
		name string
		page templ.Component
		sel  string
	}{
		{"new key", KeyNew(KeyNewPage{Layout: keysLayout("New key"), Plan: off}), `[data-testid="plan-limit"]`},
		{"keys list", KeysList(KeysPage{Layout: keysLayout("API keys"), Keys: testKeys(), Plan: off}), `[data-testid="plan-limit"]`},
		{"dashboard", Dashboard(DashboardPage{Layout: keysLayout("Dashboard"), Keys: testKeys(), Plan: off}), `main`},
	}
	for _, tt := range pages {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := render(t, tt.page)
			part := doc.Find(tt.sel)
			if part.Length() == 0 {
				t.Fatalf("no %s", tt.sel)
			}
			if strings.Contains(strings.ToLower(part.Text()), "upgrade") {
				t.Errorf("%s offers an upgrade without billing: %q", tt.sel, part.Text())
			}
			if tt.sel != "main" && !strings.Contains(part.Text(), "3 keys, and you have 3. Revoke a key you no longer use") {
				t.Errorf("limit message = %q", part.Text())
			}
		})
	}
}

func TestKeyCreated(t *testing.T) {
	doc, html := render(t, KeyCreated(testCreated(false, nil)))
	secret := doc.Find(`[data-testid="new-key"]`)
	if secret.Length() != 1 {
		t.Fatalf("%d new-key elements, want 1", secret.Length())
	}
	if got := secret.Text(); got != testSecret {
		t.Errorf("new-key text = %q, want exactly %q", got, testSecret)
	}
	id, _ := secret.Attr("id")
	if doc.Find(`button[type="button"][data-copy-target="`+id+`"]`).Length() != 1 {
		t.Error("no copy button for the key")
	}
	if got := strings.Count(html, testSecret); got != 2 {
		t.Errorf("secret appears %d times, want 2 (the key and the curl call)", got)
	}
	warning := doc.Find(`[role="alert"]`).First()
	if !strings.Contains(warning.Text(), "Copy this key now. You will not see it again.") {
		t.Errorf("first alert = %q", warning.Text())
	}
	curl := doc.Find("#new-key-curl")
	for _, want := range []string{"curl -X POST https://keys.example.com/v1/verify", `"key":"` + testSecret + `"`} {
		if !strings.Contains(curl.Text(), want) {
			t.Errorf("curl call %q lacks %q", curl.Text(), want)
		}
	}
	if doc.Find(`button[data-copy-target="new-key-curl"]`).Length() != 1 {
		t.Error("no copy button for the curl call")
	}
	replace := doc.Find("[data-replace-url]")
	if got, _ := replace.Attr("data-replace-url"); replace.Length() != 1 || got != "/keys/key_a" {
		t.Errorf("data-replace-url = %q (%d elements)", got, replace.Length())
	}
	if !strings.Contains(replace.Text(), testSecret) {
		t.Error("data-replace-url is not on the page's content wrapper")
	}
	settings := doc.Find(`a[href="/keys/key_a"]`).FilterFunction(func(_ int, s *goquery.Selection) bool { return s.Text() == "Go to key settings" })
	back := doc.Find(`a[href="/keys"]`).FilterFunction(func(_ int, s *goquery.Selection) bool { return s.Text() == "Back to keys" })
	if settings.Length() != 1 || back.Length() != 1 {
		t.Errorf("links: settings %d, back %d; want 1 each", settings.Length(), back.Length())
	}
	if strings.Contains(doc.Text(), "rotated") {
		t.Error("a created key says it was rotated")
	}
}

func TestKeyRotated(t *testing.T) {
	t.Run("with grace", func(t *testing.T) {
		until := time.Date(2026, 3, 5, 15, 30, 0, 0, time.UTC)
		doc, _ := render(t, KeyCreated(testCreated(true, &until)))
		msg := doc.Find(`[role="alert"][data-testid="rotated"]`)
		if !strings.Contains(msg.Text(), "rotated") || !strings.Contains(msg.Text(), "keeps working until Mar 5, 2026 at 15:30 UTC") {
			t.Errorf("rotation message = %q", msg.Text())
		}
		if got, _ := msg.Find("time").Attr("datetime"); got != "2026-03-05T15:30:00Z" {
			t.Errorf("datetime = %q", got)
		}
		if doc.Find(`[data-testid="new-key"]`).Text() != testSecret {
			t.Error("rotated secret not shown")
		}
	})
	t.Run("without grace", func(t *testing.T) {
		doc, _ := render(t, KeyCreated(testCreated(true, nil)))
		msg := doc.Find(`[role="alert"][data-testid="rotated"]`)
		if !strings.Contains(msg.Text(), "stopped working now") {
			t.Errorf("rotation message = %q", msg.Text())
		}
	})
}

func TestKeyDetail(t *testing.T) {
	p := testDetail()
	doc, _ := render(t, KeyDetail(p))
	if got := doc.Find(`h1[data-testid="key-name"]`).Text(); got != p.Key.Name {
		t.Errorf("h1 = %q", got)
	}
	if got := doc.Find(`[data-testid="key-display"]`).First().Text(); got != p.Key.Display {
		t.Errorf("display = %q", got)
	}
	if got := doc.Find(`[data-testid="key-status"]`).First().Text(); got != "Active" {
		t.Errorf("status = %q", got)
	}
	lastUsed := doc.Find(`[data-testid="key-overview"] time`).FilterFunction(func(_ int, s *goquery.Selection) bool { return s.Text() == "3 minutes ago" })
	if got, _ := lastUsed.Attr("title"); got != "2026-03-04 15:27:00 UTC" {
		t.Errorf("last used title = %q", got)
	}
	if got := doc.Find(`pre[data-testid="key-meta"]`).Text(); got != p.Meta {
		t.Errorf("meta = %q", got)
	}

	settings := doc.Find(`form[action="/keys/key_a"][method="post"]`)
	for name, want := range map[string]string{"name": p.Form.Name, "scopes": p.Form.Scopes, "expires": p.Form.Expires} {
		if got, _ := settings.Find(`input[name="` + name + `"]`).Attr("value"); got != want {
			t.Errorf("settings %s = %q, want %q", name, got, want)
		}
	}
	if got := settings.Find(`textarea[name="meta"]`).Text(); got != p.Form.Meta {
		t.Errorf("settings meta = %q", got)
	}
	if settings.Find("fieldset[disabled]").Length() != 0 {
		t.Error("settings disabled for an active key")
	}

	rotate := doc.Find(`form[action="/keys/key_a/rotate"][method="post"]`)
	var values []string
	rotate.Find(`select[name="grace"] option`).Each(func(_ int, o *goquery.Selection) { values = append(values, o.AttrOr("value", "")) })
	if strings.Join(values, ",") != "0,1h,24h,168h" {
		t.Errorf("grace options = %q", values)
	}
	if id, _ := rotate.Find(`select[name="grace"]`).Attr("id"); doc.Find(`label[for="`+id+`"]`).Length() != 1 {
		t.Error("grace select has no label")
	}
	if !strings.Contains(doc.Find(`[data-testid="rotate-section"]`).Text(), "key id") {
		t.Error("rotate section does not say the key id stays")
	}

	revoke := doc.Find(`form[action="/keys/key_a/revoke"][method="post"]`)
	if got, _ := revoke.Attr("data-confirm"); got != "Revoke “Production backend”? Apps using it will stop working immediately." {
		t.Errorf("data-confirm = %q", got)
	}
	if revoke.Find(`button[type="submit"]`).Length() != 1 {
		t.Error("no revoke button")
	}
	if doc.Find(`[data-testid="revoked-on"]`).Length() != 0 {
		t.Error("an active key says it was revoked")
	}

	var labels []string
	doc.Find(`[data-testid="audit-row"] [data-testid="audit-action"]`).Each(func(_ int, s *goquery.Selection) { labels = append(labels, s.Text()) })
	if strings.Join(labels, ",") != "Rotated,Renamed,Edited,Revoked,Created" {
		t.Errorf("audit labels = %q", labels)
	}
	first := doc.Find(`[data-testid="audit-row"]`).First()
	for _, want := range []string{"Rotated kh_live_…o5p5 → kh_live_…o5p6", "203.0.113.7", "2 hours ago"} {
		if !strings.Contains(first.Text(), want) {
			t.Errorf("first audit row %q lacks %q", first.Text(), want)
		}
	}
	if got, _ := first.Find("time").Attr("title"); got != "2026-03-04 13:30:00 UTC" {
		t.Errorf("audit time title = %q", got)
	}
	if doc.Find(`[data-testid="activity-empty"]`).Length() != 0 {
		t.Error("empty activity with rows")
	}
	if n := doc.Find(`[role="alert"]`).Length(); n != 0 {
		t.Errorf("%d alerts without an error", n)
	}
}

func TestKeyDetailError(t *testing.T) {
	p := testDetail()
	p.Error = "Scopes: at most 20."
	p.Form.Scopes = "a b c"
	doc, _ := render(t, KeyDetail(p))
	settings := doc.Find(`form[action="/keys/key_a"]`)
	if got := strings.TrimSpace(settings.Find(`[role="alert"]`).Text()); got != p.Error {
		t.Errorf("settings alert = %q", got)
	}
	if got, _ := settings.Find(`input[name="scopes"]`).Attr("value"); got != "a b c" {
		t.Errorf("scopes = %q, want the user's input", got)
	}
}

func TestKeyDetailRevoked(t *testing.T) {
	doc, _ := render(t, KeyDetail(revokedDetail()))
	for _, action := range []string{"/keys/key_b/rotate", "/keys/key_b/revoke"} {
		if doc.Find(`form[action="`+action+`"]`).Length() != 0 {
			t.Errorf("form %s on a revoked key", action)
		}
	}
	revoked := doc.Find(`[data-testid="revoked-on"]`)
	if !strings.Contains(revoked.Text(), "Revoked on Feb 3, 2026 at 15:30 UTC") {
		t.Errorf("revoked = %q", revoked.Text())
	}
	if doc.Find(`form[action="/keys/key_b"]`).Length() != 0 {
		t.Error("a revoked key shows its settings form")
	}
	if doc.Find(`[data-testid="activity-empty"]`).Length() != 1 {
		t.Error("no empty activity state")
	}
	if got := doc.Find(`[data-testid="key-status"]`).First().Text(); got != "Revoked" {
		t.Errorf("status = %q", got)
	}
}

func TestAuditLabel(t *testing.T) {
	tests := map[string]string{
		"key.created":     "Created",
		"key.renamed":     "Renamed",
		"key.edited":      "Edited",
		"key.rotated":     "Rotated",
		"key.revoked":     "Revoked",
		"key.limit_reset": "Limit reset",
		"plain":           "Plain",
		"":                "",
	}
	for in, want := range tests {
		if got := auditLabel(in); got != want {
			t.Errorf("auditLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDashboardWithKeys(t *testing.T) {
	var keys []KeyRow
	for i := range 7 {
		k := testKeys()[0]
		k.ID = fmt.Sprintf("key_%d", i)
		keys = append(keys, k)
	}
	l := testLayout("Dashboard", "dashboard", testAccount(false))
	l.Now = testNow
	doc, _ := render(t, Dashboard(DashboardPage{Layout: l, BaseURL: "https://keys.example.com", Keys: keys, Plan: testPlan}))
	if doc.Find(`[data-testid="empty-state"]`).Length() != 0 {
		t.Error("empty state with keys")
	}
	rows := doc.Find(`[data-testid="key-row"]`)
	if rows.Length() != 5 {
		t.Fatalf("%d key rows, want 5", rows.Length())
	}
	rows.Each(func(i int, r *goquery.Selection) {
		if got, _ := r.Attr("data-key-id"); got != keys[i].ID {
			t.Errorf("row %d: data-key-id = %q", i, got)
		}
		if r.Find(`[data-testid="usage-bar"]`).Length() != 1 || r.Find("time").Length() != 1 {
			t.Errorf("row %d: no usage bar or last-used time", i)
		}
	})
	if got := strings.TrimSpace(doc.Find(`a[data-testid="all-keys-link"]`).Text()); !strings.HasPrefix(got, "View all keys") {
		t.Errorf("all keys link = %q", got)
	}
	if doc.Find(`[data-testid="quickstart"]`).Length() != 1 {
		t.Error("no quickstart")
	}
	plan := doc.Find(`[data-testid="plan-card"]`)
	for _, want := range []string{"Free", "2 of 3", "1,000 / month", "10 requests/s, bursts of 20"} {
		if !strings.Contains(plan.Text(), want) {
			t.Errorf("plan card lacks %q", want)
		}
	}
}

func TestDashboardPlanNameFallsBackToAccount(t *testing.T) {
	doc, _ := render(t, Dashboard(DashboardPage{Layout: testLayout("Dashboard", "dashboard", testAccount(false))}))
	if got := doc.Find(`[data-testid="plan-name"]`).Text(); got != "Pro" {
		t.Errorf("plan name = %q, want the account's Pro", got)
	}
}

func TestKeyPagesEscapeNames(t *testing.T) {
	const evil = `<script>alert(1)</script>`
	keys := testKeys()
	keys[0].Name = evil
	detail := testDetail()
	detail.Key.Name, detail.Form.Name = evil, evil
	detail.Audit[0].Detail = evil
	created := testCreated(false, nil)
	created.Key.Name = evil
	dash := DashboardPage{Layout: testLayout("Dashboard", "dashboard", testAccount(false)), Keys: keys, Plan: testPlan}
	tests := []struct {
		name string
		c    templ.Component
		at   string
	}{
		{"list", KeysList(KeysPage{Layout: keysLayout("API keys"), Keys: keys, Plan: testPlan}), `a[data-testid="key-name"]`},
		{"detail", KeyDetail(detail), `h1[data-testid="key-name"]`},
		{"detail audit", KeyDetail(detail), `[data-testid="audit-row"] p`},
		{"created", KeyCreated(created), `#new-key-title`},
		{"dashboard", Dashboard(dash), `a[data-testid="key-name"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, html := render(t, tt.c)
			if strings.Contains(html, evil) {
				t.Fatal("raw <script> in output")
			}
			if n := doc.Find("script").Length(); n != 1 {
				t.Errorf("%d script elements, want only app.js", n)
			}
			found := false
			doc.Find(tt.at).Each(func(_ int, s *goquery.Selection) { found = found || s.Text() == evil })
			if !found {
				t.Errorf("%s does not show the name as text", tt.at)
			}
		})
	}
	t.Run("revoke confirmation", func(t *testing.T) {
		doc, _ := render(t, KeyDetail(detail))
		if got, _ := doc.Find(`form[data-confirm]`).Attr("data-confirm"); !strings.Contains(got, evil) {
			t.Errorf("data-confirm = %q", got)
		}
		if got, _ := doc.Find(`input[name="name"]`).Attr("value"); got != evil {
			t.Errorf("name value = %q", got)
		}
	})
}

// fullKey matches a whole secret; listed keys show only kh_live_…abcd.
var fullKey = regexp.MustCompile(`kh_live_[0-9A-Za-z]{20,}`)

func TestListsAndDetailNeverShowASecret(t *testing.T) {
	leak := func() []KeyRow {
		keys := testKeys()
		keys[0].Display = testSecret // a handler bug: the full key where the display belongs
		return keys
	}
	detail := testDetail()
	detail.Key = leak()[0]
	pages := map[string]templ.Component{
		"list":      KeysList(KeysPage{Layout: keysLayout("API keys"), Keys: leak(), Plan: testPlan}),
		"detail":    KeyDetail(detail),
		"dashboard": Dashboard(DashboardPage{Layout: testLayout("Dashboard", "dashboard", testAccount(false)), Keys: leak(), Plan: testPlan}),
	}
	for name, c := range pages {
		t.Run(name, func(t *testing.T) {
			doc, html := render(t, c)
			if m := fullKey.FindString(html); m != "" {
				t.Fatalf("page shows a full key: %q", m)
			}
			if doc.Find(`[data-testid="new-key"]`).Length() != 0 {
				t.Error("a new-key element outside the created page")
			}
			if got := doc.Find(`[data-testid="key-display"]`).First().Text(); got != "kh_live_…Zq81" {
				t.Errorf("display = %q, want the masked key", got)
			}
		})
	}
}

func TestMaskedKey(t *testing.T) {
	tests := map[string]string{
		"kh_live_…o5p6":              "kh_live_…o5p6",
		testSecret:                   "kh_live_…Zq81",
		"":                           "",
		"short":                      "short",
		"abcdefghijklmnopqrstuvwxyz": "…wxyz",
	}
	for in, want := range tests {
		if got := maskedKey(in); got != want {
			t.Errorf("maskedKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatCount(t *testing.T) {
	tests := map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 100000: "100,000", 1234567: "1,234,567", -4200: "-4,200"}
	for in, want := range tests {
		if got := formatCount(in); got != want {
			t.Errorf("formatCount(%d) = %q, want %q", in, got, want)
		}
	}
}
