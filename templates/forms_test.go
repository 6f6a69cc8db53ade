package templates

import (
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// graceDetail is an active key in a rotation's grace period.
func graceDetail() KeyDetailPage {
	p := testDetail()
	p.OldSecretUntil = tptr(testNow.Add(23 * time.Hour))
	return p
}

// checkFieldError checks that the input named name is marked invalid and
// described by a role="alert" message holding want.
func checkFieldError(t *testing.T, doc *goquery.Document, form *goquery.Selection, name, want string) {
	t.Helper()
	in := form.Find(`[name="` + name + `"]`).Not(`[type="radio"]`)
	if got, _ := in.Attr("aria-invalid"); got != "true" {
		t.Errorf("%s: aria-invalid = %q", name, got)
	}
	ids, _ := in.Attr("aria-describedby")
	first := strings.Fields(ids + " none")[0]
	msg := doc.Find("#" + first)
	if role, _ := msg.Attr("role"); role != "alert" || !strings.Contains(msg.Text(), want) {
		t.Errorf("%s: described first by #%s %q (role %q), want an alert with %q", name, first, msg.Text(), role, want)
	}
}

func TestKeyNewFieldErrors(t *testing.T) {
	form := KeyForm{Name: "", Scopes: "read, bad scope!", Meta: `{"a":`, Expiry: "30"}
	fields := map[string]string{"name": "Give the key a name.", "scopes": `Scope "scope!" is not valid.`, "meta": "Metadata must be a JSON object."}
	doc, _ := render(t, KeyNew(KeyNewPage{Layout: keysLayout("New key"), Form: form, Fields: fields, Plan: testPlan, ExpiryPresets: []int{7, 30, 90}}))
	f := doc.Find(`form[action="/keys"]`)
	if n := f.Find(`[data-testid="field-error"][role="alert"]`).Length(); n != 3 {
		t.Errorf("%d field errors, want 3", n)
	}
	if f.Find(`[data-testid="form-error"]`).Length() != 0 {
		t.Error("field errors repeated in a banner above the form")
	}
	for name, msg := range fields {
		checkFieldError(t, doc, f, name, msg)
	}
	// The hint still describes the input, after its error.
	if ids, _ := f.Find(`input[name="scopes"]`).Attr("aria-describedby"); ids != "key-scopes-error key-scopes-hint" {
		t.Errorf("scopes aria-describedby = %q", ids)
	}
	if got, _ := f.Find(`input[name="scopes"]`).Attr("value"); got != form.Scopes {
		t.Errorf("scopes value = %q, want the user's input", got)
	}
	if got := f.Find(`textarea[name="meta"]`).Text(); got != form.Meta {
		t.Errorf("meta = %q, want the user's input", got)
	}
	if _, ok := f.Find(`input[name="expires"]`).Attr("aria-invalid"); ok {
		t.Error("a valid field is marked invalid")
	}
	autofocus := f.Find(`[autofocus]`)
	if name, _ := autofocus.Attr("name"); autofocus.Length() != 1 || name != "name" {
		t.Errorf("autofocus on %d elements (%q), want the name only", autofocus.Length(), name)
	}
}

func TestKeyNewFocusFollowsFirstInvalidField(t *testing.T) {
	tests := []struct {
		fields map[string]string
		want   string // name of the autofocused input; "" for none
		form   KeyForm
		plan   Plan
	}{
		{nil, "name", KeyForm{Expiry: "30"}, testPlan},
		{nil, "", KeyForm{Expiry: "30"}, fullPlan},
		{map[string]string{"meta": "m"}, "meta", KeyForm{Expiry: "30"}, testPlan},
		{map[string]string{"meta": "m", "scopes": "s"}, "scopes", KeyForm{Expiry: "30"}, testPlan},
		{map[string]string{"expires": "e"}, "expires", KeyForm{Expiry: "custom"}, testPlan},
		{map[string]string{"expires": "e"}, "expiry", KeyForm{Expiry: "45"}, testPlan},
	}
	for _, tt := range tests {
		doc, _ := render(t, KeyNew(KeyNewPage{Layout: keysLayout("New key"), Form: tt.form, Fields: tt.fields, Plan: tt.plan, ExpiryPresets: []int{7, 30, 90}}))
		af := doc.Find(`form[action="/keys"] [autofocus]`)
		got := af.AttrOr("name", "")
		if af.Length() > 1 || got != tt.want {
			t.Errorf("fields %v: autofocus on %d elements, %q; want %q", tt.fields, af.Length(), got, tt.want)
		}
	}
}

func TestKeyNewExpiryPresets(t *testing.T) {
	doc, _ := render(t, KeyNew(KeyNewPage{Layout: keysLayout("New key"), Form: KeyForm{Expiry: "30"}, Plan: testPlan, ExpiryPresets: []int{7, 30, 90}}))
	var values []string
	radios := doc.Find(`fieldset[data-testid="expiry-choice"] input[type="radio"][name="expiry"]`)
	radios.Each(func(_ int, r *goquery.Selection) { values = append(values, r.AttrOr("value", "")) })
	if got := strings.Join(values, ","); got != "7,30,90,custom,never" {
		t.Errorf("expiry choices = %q", got)
	}
	if checked := radios.Filter("[checked]"); checked.Length() != 1 || checked.AttrOr("value", "") != "30" {
		t.Errorf("checked = %d, %q; want 30 days", checked.Length(), checked.AttrOr("value", ""))
	}
	// Each preset says the day it ends (testNow + 30 days).
	if !strings.Contains(radios.Eq(1).Parent().Text(), "Apr 3, 2026") {
		t.Errorf("30 days option = %q, want its end date", radios.Eq(1).Parent().Text())
	}
	if w := doc.Find(`[data-testid="expiry-never-warning"]`); !strings.Contains(w.Text(), "never expires") {
		t.Errorf("never warning = %q", w.Text())
	}
	if doc.Find(`fieldset legend`).Length() == 0 {
		t.Error("expiry choices have no legend")
	}
	// A form posted with only a date (no preset) shows it as the custom choice.
	doc, _ = render(t, KeyNew(KeyNewPage{Layout: keysLayout("New key"), Form: KeyForm{Expires: "2026-12-31"}, Plan: testPlan, ExpiryPresets: []int{7, 30, 90}}))
	if v := doc.Find(`input[name="expiry"][checked]`).AttrOr("value", ""); v != "custom" {
		t.Errorf("date only: checked %q, want custom", v)
	}
}

func TestKeyNewScopeSuggestions(t *testing.T) {
	doc, _ := render(t, KeyNew(KeyNewPage{Layout: keysLayout("New key"), Plan: testPlan, ScopeSuggestions: []string{"read", "billing:write"}}))
	var got []string
	doc.Find(`[data-testid="scope-suggestions"] button[type="button"][data-scope-target="key-scopes"]`).Each(func(_ int, b *goquery.Selection) {
		got = append(got, b.AttrOr("data-scope-add", ""))
	})
	if strings.Join(got, " ") != "read billing:write" {
		t.Errorf("suggested scopes = %q", got)
	}
	doc, _ = render(t, KeyNew(KeyNewPage{Layout: keysLayout("New key"), Plan: testPlan}))
	if doc.Find(`[data-testid="scope-suggestions"]`).Length() != 0 {
		t.Error("suggestions shown for an account without scopes")
	}
}

func TestKeyDetailSettingsFieldErrors(t *testing.T) {
	p := testDetail()
	p.Form = KeyForm{Name: "x", Scopes: "a b", Meta: "[]", Expires: "2020-01-01"}
	p.Fields = map[string]string{"meta": "Metadata must be a JSON object.", "expires": "The expiry date must be in the future."}
	doc, _ := render(t, KeyDetail(p))
	settings := doc.Find(`form[action="/keys/key_a"]`)
	checkFieldError(t, doc, settings, "meta", "JSON object")
	checkFieldError(t, doc, settings, "expires", "future")
	if af := settings.Find("[autofocus]"); af.AttrOr("name", "") != "meta" || af.Length() != 1 {
		t.Errorf("autofocus on %q, want meta", af.AttrOr("name", ""))
	}
	if got := settings.Find(`input[name="expires"]`).AttrOr("value", ""); got != "2020-01-01" {
		t.Errorf("expires = %q, want the user's input", got)
	}
	// No errors: nothing marked, nothing focused.
	doc, _ = render(t, KeyDetail(testDetail()))
	if n := doc.Find(`[aria-invalid], form [autofocus]`).Length(); n != 0 {
		t.Errorf("%d invalid or focused elements without errors", n)
	}
}

func TestKeyDetailRotateForm(t *testing.T) {
	p := testDetail()
	p.GraceOptions[2].Default = true
	doc, _ := render(t, KeyDetail(p))
	rotate := doc.Find(`form[action="/keys/key_a/rotate"]`)
	if c := rotate.AttrOr("data-confirm", ""); !strings.Contains(c, "Production backend") {
		t.Errorf("rotate confirm = %q", c)
	}
	if sel := rotate.Find(`option[selected]`); sel.Length() != 1 || sel.AttrOr("value", "") != "24h" {
		t.Errorf("selected grace = %q", sel.AttrOr("value", ""))
	}
	if doc.Find(`[data-testid="old-secret"]`).Length() != 0 {
		t.Error("an old secret is shown outside a grace period")
	}
}

func TestKeyDetailOldSecret(t *testing.T) {
	doc, _ := render(t, KeyDetail(graceDetail()))
	card := doc.Find(`form[data-testid="old-secret"][method="post"][action="/keys/key_a/expire-old-secret"]`)
	if card.Length() != 1 {
		t.Fatal("no expire-now form")
	}
	if card.Find(`input[name="_csrf"]`).AttrOr("value", "") != testCSRF {
		t.Error("expire-now form without the CSRF token")
	}
	until := card.Find(`[data-testid="old-secret-until"]`)
	if until.AttrOr("title", "") != "2026-03-05 14:30:00 UTC" || until.AttrOr("datetime", "") != "2026-03-05T14:30:00Z" {
		t.Errorf("until title %q datetime %q", until.AttrOr("title", ""), until.AttrOr("datetime", ""))
	}
	if text := strings.Join(strings.Fields(card.Text()), " "); !strings.Contains(text, "works until Mar 5, 2026 at 14:30 UTC (in 23 hours)") ||
		!strings.Contains(text, "Expire it now") {
		t.Errorf("old secret card = %q", text)
	}
	if card.AttrOr("data-confirm", "") == "" {
		t.Error("expire-now has no confirm step")
	}
}

func TestKeyDetailKeyID(t *testing.T) {
	doc, _ := render(t, KeyDetail(testDetail()))
	id := doc.Find(`[data-testid="key-id"]`)
	if strings.TrimSpace(id.Text()) != "key_a" {
		t.Errorf("key id = %q", id.Text())
	}
	if doc.Find(`button[type="button"][data-copy-target="`+id.AttrOr("id", "?")+`"]`).Length() != 1 {
		t.Error("no copy button for the key id")
	}
}

func TestKeyDetailRevokedSummary(t *testing.T) {
	p := revokedDetail()
	p.RevokedBy = "you"
	p.UsageToDate = UsageTotals{Valid: 1200, Invalid: 34, RateLimited: 5, TokenIssued: 10}
	doc, _ := render(t, KeyDetail(p))
	sum := doc.Find(`[data-testid="revoked-summary"]`)
	text := strings.Join(strings.Fields(sum.Text()), " ")
	if !strings.Contains(text, "Revoked on Feb 3, 2026 at 15:30 UTC by you. Verifications with it answer REVOKED.") {
		t.Errorf("summary = %q", text)
	}
	facts := map[string]string{}
	sum.Find("dt").Each(func(_ int, dt *goquery.Selection) {
		facts[dt.Text()] = strings.TrimSpace(dt.Next().Text())
	})
	for term, want := range map[string]string{"Last used": "Feb 2, 2026", "Verifications": "1,249", "Valid": "1,210", "Refused": "39"} {
		if facts[term] != want {
			t.Errorf("%s = %q, want %q", term, facts[term], want)
		}
	}
	if sum.Find(`time[title]`).Length() < 2 {
		t.Error("summary times have no exact time on hover")
	}
	if doc.Find(`fieldset[disabled], [data-testid="key-settings-form"]`).Length() != 0 {
		t.Error("a revoked key still shows the greyed-out settings form")
	}
}
