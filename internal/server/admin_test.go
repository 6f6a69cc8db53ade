package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/keys"
)

// MustAdmin signs an operator up in a new browser.
func (h *harness) MustAdmin(email string) *browser {
	h.t.Helper()
	b := h.Browser()
	b.MustSignup(email)
	a, err := h.DB.UserByEmail(context.Background(), email)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.DB.SetAdmin(context.Background(), a.ID, true); err != nil {
		h.t.Fatal(err)
	}
	return b
}

// mustPage GETs path and fails the test unless it answers 200.
func (b *browser) mustPage(path string) *page {
	b.h.t.Helper()
	p := b.Get(path)
	if p.StatusCode != http.StatusOK {
		b.h.t.Fatalf("GET %s = %d, want 200 (Location %q)", path, p.StatusCode, p.Header.Get("Location"))
	}
	return p
}

// adminRoutes are every page and form of the console.
var adminRoutes = []struct{ method, path string }{
	{"GET", "/admin"}, {"GET", "/admin/accounts"}, {"GET", "/admin/accounts/ID"}, {"POST", "/admin/accounts/ID/plan"},
	{"GET", "/admin/keys"}, {"GET", "/admin/keys/KEY"}, {"POST", "/admin/keys/KEY/overrides"},
	{"GET", "/admin/events"}, {"POST", "/admin/events/evt_1/reapply"}, {"GET", "/admin/audit"},
	{"POST", "/admin/accounts/ID/suspend"}, {"POST", "/admin/keys/KEY/revoke"},
	{"GET", "/admin/users/ID"}, {"POST", "/admin/users/ID/promote"}, {"POST", "/admin/users/ID/demote"}, {"POST", "/admin/users/ID/reset-link"},
	{"GET", "/admin/root-keys"}, {"POST", "/admin/root-keys"}, {"POST", "/admin/root-keys/ID/revoke"},
	{"GET", "/admin/webhooks"}, {"POST", "/admin/webhooks"}, {"GET", "/admin/webhooks/WH"}, {"POST", "/admin/webhooks/WH"},
	{"POST", "/admin/webhooks/WH/enable"}, {"POST", "/admin/webhooks/WH/disable"}, {"POST", "/admin/webhooks/WH/roll-secret"},
	{"POST", "/admin/webhooks/WH/test"}, {"POST", "/admin/webhooks/WH/delete"}, {"POST", "/admin/webhooks/WH/deliveries/DLV/resend"},
}

func TestAdminIsNotFoundForOthers(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	id := accountID(t, h, "ada@example.com")
	keyID, _ := b.MustCreateKey("prod", nil)
	wh, _, err := h.Webhooks.CreateEndpoint(context.Background(), audit.Actor{}, events.EndpointInput{URL: "https://example.com/hook", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	params := strings.NewReplacer("ID", id, "KEY", keyID, "WH", wh.ID, "DLV", "dlv_1")
	tok, _ := b.Get("/account").Doc.Find(`form[action="/account/password"] input[name="_csrf"]`).Attr("value")
	anon := h.Browser()
	for _, r := range adminRoutes {
		path := params.Replace(r.path)
		var p *page
		if r.method == "GET" {
			p = b.Get(path)
		} else {
			p = b.Post(path, url.Values{"_csrf": {tok}, "plan": {"business"}, "quota": {"1000000"}, "url": {"https://example.com/mine"}, "enabled": {"true"}})
		}
		if p.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s as a developer: %d, want 404", r.method, path, p.StatusCode)
		}
		if strings.Contains(p.Body, "Operator console") || strings.Contains(p.Body, "admin-nav") {
			t.Errorf("%s %s: the 404 page shows the console", r.method, path)
		}
		if r.method == "GET" {
			if p := anon.Get(path); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/login" {
				t.Errorf("GET %s anonymous: %d %q, want a redirect to /login", path, p.StatusCode, p.Header.Get("Location"))
			}
		}
	}
	// Nothing the refused forms asked for happened.
	if plan, _ := h.DB.AccountPlan(context.Background(), id); plan != "free" {
		t.Errorf("a developer changed their plan to %s", plan)
	}
	if k, _ := lookupKey(h, keyID); k.QuotaOverride != nil || k.RevokedAt != nil {
		t.Error("a developer set an override or revoked through the console")
	}
	if u, _ := h.Auth.User(context.Background(), id); u.IsAdmin {
		t.Error("a developer promoted themself")
	}
	if a, _ := h.Auth.Account(context.Background(), id); a.Suspended {
		t.Error("a developer suspended themself")
	}
	if es, _ := h.Webhooks.Endpoints(context.Background(), events.Page{}); len(es) != 1 || es[0].URL != "https://example.com/hook" || !es[0].Enabled {
		t.Errorf("a developer changed the webhook endpoints: %+v", es)
	}
	if b.Get("/dashboard").Doc.Find(`[data-testid="nav"] a[href="/admin"]`).Length() != 0 {
		t.Error("a developer's navigation links to /admin")
	}

	// An operator gets every page, and the nav link; demoted, the console
	// is gone at once.
	ops := h.MustAdmin("ops@example.com")
	for _, r := range adminRoutes {
		if r.method == "GET" {
			ops.mustPage(params.Replace(r.path))
		}
	}
	if ops.mustPage("/dashboard").Doc.Find(`[data-testid="nav"] a[href="/admin"]`).Length() != 1 {
		t.Error("the operator's navigation has no Admin link")
	}
	if err := h.DB.SetAdmin(context.Background(), accountID(t, h, "ops@example.com"), false); err != nil {
		t.Fatal(err)
	}
	if p := ops.Get("/admin"); p.StatusCode != http.StatusNotFound {
		t.Errorf("a demoted operator: %d, want 404", p.StatusCode)
	}
}

func TestAdminOverridesTakeEffectOnTheNextVerify(t *testing.T) {
	h := MustServer(t)
	keyID, secret := mustKeyFor(t, h, "ada@example.com", nil)
	if _, a := h.postVerify(t, verifyJSON(secret, ""), nil); a.Quota.Limit != 1000 || a.RateLimit.Limit != 20 {
		t.Fatalf("before: %s", a.Raw) // cached now, with the free plan's limits
	}
	ops := h.MustAdmin("ops@example.com")
	page := "/admin/keys/" + keyID
	action := page + "/overrides"

	// Refused input keeps the form and says why.
	p := ops.Submit(page, action, url.Values{"rate": {"50"}, "burst": {"10"}, "quota": {""}})
	if p.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(alert(p), "burst") {
		t.Errorf("burst below the rate: %d %q", p.StatusCode, alert(p))
	}
	if v, _ := p.Doc.Find(`input[name="rate"]`).Attr("value"); v != "50" {
		t.Errorf("the form lost the input: rate %q", v)
	}
	// Nothing was saved, and the limits card says so (it once showed
	// "50/s Override" here).
	if got := strings.Join(strings.Fields(p.Doc.Find(`[data-testid="key-limits"]`).Text()), " "); strings.Contains(got, "Override") || !strings.Contains(got, "10/s") {
		t.Errorf("limits card after a refused save: %q", got)
	}
	// Every field's problem in one submit.
	p = ops.Submit(page, action, url.Values{"rate": {"0"}, "burst": {"many"}, "quota": {"-5"}})
	if p.StatusCode != http.StatusUnprocessableEntity || p.Doc.Find(`[aria-invalid="true"]`).Length() != 3 ||
		p.Doc.Find(`[data-testid="field-error"][role="alert"]`).Length() != 3 {
		t.Errorf("three bad fields: %d, %d marked, alerts %q", p.StatusCode, p.Doc.Find(`[aria-invalid="true"]`).Length(), alert(p))
	}
	if p := ops.Submit(page, action, url.Values{"quota": {"lots"}}); p.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("a quota that is no number: %d", p.StatusCode)
	}

	p = ops.Submit(page, action, url.Values{"rate": {"3"}, "burst": {""}, "quota": {"5,000"}})
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != page {
		t.Fatalf("save: %d %q %s", p.StatusCode, p.Header.Get("Location"), alert(p))
	}
	_, a := h.postVerify(t, verifyJSON(secret, ""), nil)
	if !a.Valid || a.Quota.Limit != 5000 || a.RateLimit.Limit != 20 {
		t.Errorf("the next verify: %s, want quota 5000 and the plan's burst 20", a.Raw)
	}
	p = ops.mustPage(page)
	if !strings.Contains(alert(p), "next verification") {
		t.Errorf("flash %q", alert(p))
	}
	if got := strings.TrimSpace(p.Doc.Find(`[data-testid="limit-quota"]`).Text()); got != "5,000 a month" {
		t.Errorf("limits card: quota %q", got)
	}
	if v, _ := p.Doc.Find(`input[name="quota"]`).Attr("value"); v != "5000" {
		t.Errorf("form quota %q", v)
	}
	if got := p.Doc.Find(`[data-testid="audit-row"][data-action="key.overrides_changed"]`).Text(); !strings.Contains(got, "ops@example.com") || !strings.Contains(got, "quota plan → 5000") {
		t.Errorf("the key's trail: %q", got)
	}

	// Cleared: the plan's quota again, at once.
	ops.Submit(page, action, url.Values{"rate": {""}, "burst": {""}, "quota": {""}})
	if _, a := h.postVerify(t, verifyJSON(secret, ""), nil); a.Quota.Limit != 1000 {
		t.Errorf("after clearing: %s", a.Raw)
	}
}

func TestAdminPlanWithoutStripe(t *testing.T) {
	h := MustServer(t)
	_, secret := mustKeyFor(t, h, "ada@example.com", nil)
	id := accountID(t, h, "ada@example.com")
	h.postVerify(t, verifyJSON(secret, ""), nil)
	ops := h.MustAdmin("ops@example.com")
	page := "/admin/accounts/" + id
	p := ops.Submit(page, page+"/plan", url.Values{"plan": {"pro"}})
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != page {
		t.Fatalf("set plan: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	if _, a := h.postVerify(t, verifyJSON(secret, ""), nil); a.Plan != "pro" || a.Quota.Limit != 100000 {
		t.Errorf("after the comped plan: %s", a.Raw)
	}
	p = ops.mustPage(page)
	if !strings.Contains(alert(p), "Pro") || strings.TrimSpace(p.Doc.Find(`h1 + [data-testid="account-plan"]`).Text()) != "Pro" {
		t.Errorf("account page: %q / %q", alert(p), p.Doc.Find(`[data-testid="account-plan"]`).Text())
	}
	if p := ops.Submit(page, page+"/plan", url.Values{"plan": {"platinum"}}); !strings.Contains(alert(ops.mustPage(page)), "plans of the catalog") || p.StatusCode != http.StatusSeeOther {
		t.Errorf("unknown plan: %d", p.StatusCode)
	}
}

func TestAdminPlanRefusedForStripeSubscribers(t *testing.T) {
	h := MustServer(t)
	h.Browser().MustSignup("ada@example.com")
	id := accountID(t, h, "ada@example.com")
	if _, err := h.DB.SetCustomerID(context.Background(), id, "cus_ada"); err != nil {
		t.Fatal(err)
	}
	body := stripeEvent(t, "customer.subscription.json", map[string]any{"ID": "evt_pro", "Type": "customer.subscription.created",
		"Created": time.Now().Unix(), "Customer": "cus_ada", "Subscription": "sub_ada", "Status": "active", "Price": "price_keyhold_pro"})
	if code, resp := h.postWebhook(t, body, testWebhookSecret); code != http.StatusOK {
		t.Fatalf("webhook: %d %s", code, resp)
	}
	ops := h.MustAdmin("ops@example.com")
	page := "/admin/accounts/" + id
	p := ops.mustPage(page)
	if p.Doc.Find(`[data-testid="plan-form"]`).Length() != 0 || p.Doc.Find(`[data-testid="plan-form-locked"]`).Length() != 1 {
		t.Error("the plan form is offered for a paying account")
	}
	if got := p.Doc.Find(`[data-testid="stripe-customer"]`).Text(); !strings.Contains(got, "cus_ada") {
		t.Errorf("customer %q", got)
	}
	if href, _ := p.Doc.Find(`[data-testid="stripe-customer"]`).Attr("href"); href != "" {
		t.Errorf("without a Stripe key there is no dashboard to link: %q", href)
	}
	// Posting anyway is refused.
	tok, _ := p.Doc.Find(`form[action="/logout"] input[name="_csrf"]`).Attr("value")
	ops.Post(page+"/plan", url.Values{"_csrf": {tok}, "plan": {"free"}})
	if !strings.Contains(alert(ops.mustPage(page)), "Stripe") {
		t.Error("no refusal message")
	}
	if plan, _ := h.DB.AccountPlan(context.Background(), id); plan != "pro" {
		t.Errorf("plan %s", plan)
	}
}

// TestAdminAuditCoversEveryAction does each audited action through the
// portal and the console, then finds each in the audit log with who did
// it and from where.
func TestAdminAuditCoversEveryAction(t *testing.T) {
	h := MustServer(t)
	ctx := context.Background()
	b := h.Browser()
	b.MustSignup("ada@example.com") // account.created
	ada := accountID(t, h, "ada@example.com")
	b.Submit("/dashboard", "/logout", url.Values{})                                                      // account.logout
	b.Submit("/login", "/login", url.Values{"email": {"ada@example.com"}, "password": {"not the one!"}}) // account.login_failed
	if p := b.Submit("/login", "/login", url.Values{"email": {"ada@example.com"}, "password": {password}}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", p.StatusCode) // account.login
	}
	if p := b.Submit("/account", "/account/password", url.Values{"current_password": {password}, "password": {"a brand new password"}}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("password change: %d %s", p.StatusCode, alert(p)) // account.password_changed
	}
	keyID, _ := b.MustCreateKey("prod", nil)                                                         // key.created
	b.Submit("/keys/"+keyID, "/keys/"+keyID, url.Values{"name": {"production"}})                     // key.renamed
	b.Submit("/keys/"+keyID, "/keys/"+keyID, url.Values{"name": {"production"}, "scopes": {"read"}}) // key.edited
	b.Submit("/keys/"+keyID, "/keys/"+keyID+"/rotate", url.Values{"grace": {"0"}})                   // key.rotated
	b.Submit("/keys/"+keyID, "/keys/"+keyID+"/revoke", url.Values{})                                 // key.revoked

	ops := h.MustAdmin("ops@example.com")
	key2, _ := b.MustCreateKey("second", nil)
	ops.Submit("/admin/keys/"+key2, "/admin/keys/"+key2+"/overrides", url.Values{"quota": {"77"}})       // key.overrides_changed
	ops.Submit("/admin/accounts/"+ada, "/admin/accounts/"+ada+"/plan", url.Values{"plan": {"business"}}) // plan.assigned

	// Stripe moves the account to Pro (plan.changed), and a failed event
	// is applied again (stripe.event_reapplied).
	if _, err := h.DB.SetCustomerID(ctx, ada, "cus_ada"); err != nil {
		t.Fatal(err)
	}
	body := stripeEvent(t, "customer.subscription.json", map[string]any{"ID": "evt_sub", "Type": "customer.subscription.created",
		"Created": time.Now().Unix(), "Customer": "cus_ada", "Subscription": "sub_ada", "Status": "active", "Price": "price_keyhold_pro"})
	if code, resp := h.postWebhook(t, body, testWebhookSecret); code != http.StatusOK {
		t.Fatalf("webhook: %d %s", code, resp)
	}
	failed := stripeEvent(t, "invoice.json", map[string]any{"ID": "evt_inv", "Type": "invoice.paid", "Created": time.Now().Unix() + 5,
		"Customer": "cus_ada", "Subscription": "sub_ada", "Status": "active", "Price": "price_keyhold_pro"})
	if err := h.DB.RecordFailedEvent(ctx, billing.EventRecord{ID: "evt_inv", Type: "invoice.paid", Outcome: billing.OutcomeFailed,
		Detail: "database unavailable", Payload: string(failed), ReceivedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ev := ops.mustPage("/admin/events?outcome=failed")
	if n := ev.Doc.Find(`[data-testid="event-row"]`).Length(); n != 1 || !strings.Contains(ev.Body, "database unavailable") {
		t.Fatalf("failed events: %d rows", n)
	}
	p := ops.Submit("/admin/events?outcome=failed", "/admin/events/evt_inv/reapply", url.Values{"back": {"/admin/events?outcome=failed"}})
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/admin/events?outcome=failed" {
		t.Fatalf("reapply: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	ev = ops.mustPage("/admin/events")
	if !strings.Contains(alert(ev), "applied again: applied") {
		t.Errorf("reapply flash %q", alert(ev))
	}
	if got := ev.Doc.Find(`[data-event-id="evt_inv"] [data-testid="event-outcome"]`).Text(); got != "Applied" {
		t.Errorf("the event's outcome after reapply: %q", got)
	}
	if ev.Doc.Find(`[data-event-id="evt_sub"]`).Length() != 1 || ev.Doc.Find(`[data-testid="reapply-form"]`).Length() != 0 {
		t.Error("events list: want the webhook and no reapply button left")
	}

	type entry struct {
		action, actor, detail string
	}
	// A user's own events (log-ins, password) belong to no account: the
	// whole log shows them, an account's filtered log does not.
	userEvents := []entry{
		{audit.LoggedOut, "ada@example.com", "Logged out"},
		{audit.LoginFailed, "someone not signed in", "Wrong password"},
		{audit.LoggedIn, "ada@example.com", "Logged in"},
		{audit.PasswordChanged, "ada@example.com", "every session ended"},
	}
	want := []entry{
		{audit.AccountCreated, "ada@example.com", "Signed up"},
		{audit.KeyCreated, "ada@example.com", `"prod"`},
		{audit.KeyRenamed, "ada@example.com", `"production"`},
		{audit.KeyEdited, "ada@example.com", "scopes"},
		{audit.KeyRotated, "ada@example.com", "Rotated"},
		{audit.KeyRevoked, "ada@example.com", "Revoked"},
		{audit.KeyOverridden, "ops@example.com", "quota plan → 77"},
		{audit.PlanAssigned, "ops@example.com", "Free → Business"},
		{audit.PlanChanged, "Stripe", "evt_sub"},
		{audit.EventReapplied, "ops@example.com", "evt_inv"},
	}
	log := ops.mustPage("/admin/audit?account=ada@example.com")
	if got := log.Doc.Find(`[data-testid="account-filter"]`).Text(); !strings.Contains(got, "ada@example.com") {
		t.Errorf("account filter line %q", got)
	}
	all := ops.mustPage("/admin/audit")
	for _, u := range userEvents {
		if log.Doc.Find(`[data-testid="audit-row"][data-action="`+u.action+`"]`).Length() != 0 {
			t.Errorf("the account's log shows the user event %s", u.action)
		}
	}
	for i, w := range append(userEvents, want...) {
		log := log
		if i < len(userEvents) {
			log = all
		}
		var found *goquery.Selection
		log.Doc.Find(`[data-testid="audit-row"][data-action="` + w.action + `"]`).EachWithBreak(func(_ int, row *goquery.Selection) bool {
			who := strings.TrimSpace(row.Find(`[data-testid="audit-actor"]`).Text())
			if who == w.actor && strings.Contains(row.Find(`[data-testid="audit-detail"]`).Text(), w.detail) {
				found = row
			}
			return found == nil
		})
		if found == nil {
			t.Errorf("no %s entry by %q saying %q in the audit log", w.action, w.actor, w.detail)
			continue
		}
		if ip := strings.TrimSpace(found.Find(`[data-testid="audit-ip"]`).Text()); w.actor != "Stripe" && ip != "127.0.0.1" {
			t.Errorf("%s: from %q, want 127.0.0.1", w.action, ip)
		}
		if found.Find("time[datetime]").Length() != 1 {
			t.Errorf("%s: no time", w.action)
		}
	}

	// Filters: by action, by a group, by dates.
	if n := ops.mustPage("/admin/audit?action=key.").Doc.Find(`[data-testid="audit-row"]`).Length(); n != 7 {
		t.Errorf("key entries: %d, want 7 (two creations, rename, edit, rotation, revocation, override)", n)
	}
	if n := ops.mustPage("/admin/audit?action=" + audit.LoginFailed).Doc.Find(`[data-testid="audit-row"]`).Length(); n != 1 {
		t.Errorf("failed log-ins: %d", n)
	}
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	if p := ops.mustPage("/admin/audit?from=" + tomorrow); p.Doc.Find(`[data-testid="audit-row"]`).Length() != 0 || p.Doc.Find(`[data-testid="admin-empty"]`).Length() != 1 {
		t.Error("entries from tomorrow on")
	}
	if p := ops.mustPage("/admin/audit?from=yesterday"); !strings.Contains(alert(p), "YYYY-MM-DD") {
		t.Errorf("a bad date: %q", alert(p))
	}
	// The account page shows the account's trail too.
	acct := ops.mustPage("/admin/accounts/" + ada)
	if acct.Doc.Find(`[data-testid="account-activity"] [data-testid="audit-row"]`).Length() == 0 {
		t.Error("the account page has no trail")
	}
	if href, _ := acct.Doc.Find(`[data-testid="full-trail"]`).Attr("href"); href != "/admin/audit?account="+ada {
		t.Errorf("full trail link %q", href)
	}
}

// TestAdminListsPage walks each long list to its second page, with the
// filters carried in the links.
func TestAdminListsPage(t *testing.T) {
	h := MustServer(t)
	ctx := context.Background()
	ops := h.MustAdmin("ops@example.com")
	var firstID string
	for i := range 60 {
		// From an address each: one address may sign up only so often.
		a, err := h.Auth.SignupFrom(ctx, fmt.Sprintf("user%02d@example.com", i), password, fmt.Sprintf("192.0.2.%d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			firstID = a.ID
		}
	}
	actor := audit.Actor{UserID: firstID, AccountID: firstID, Role: "owner", IP: "192.0.2.1"}
	for i := range 55 {
		if _, _, err := h.Keys.Create(ctx, actor, firstID, keys.Settings{Name: fmt.Sprintf("svc-%02d", i)}); err == nil {
			continue
		}
		// The free plan allows 3 keys: comp a plan with room for all.
		if err := h.Billing.SetPlanManually(ctx, audit.Actor{}, firstID, "business"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := h.Keys.Create(ctx, actor, firstID, keys.Settings{Name: fmt.Sprintf("svc-%02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 55 {
		if err := h.DB.RecordFailedEvent(ctx, billing.EventRecord{ID: fmt.Sprintf("evt_%02d", i), Type: "invoice.paid",
			Outcome: billing.OutcomeFailed, Detail: "x", ReceivedAt: time.Now().Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}

	for _, tt := range []struct {
		name, first, row string
		total            int
		keep             string // a filter the next link must carry
	}{
		{"accounts", "/admin/accounts?q=user", `[data-testid="account-row"]`, 60, "q=user"},
		{"keys", "/admin/keys?q=svc&status=active", `[data-testid="admin-key-row"]`, 55, "status=active"},
		{"events", "/admin/events?type=invoice.paid", `[data-testid="event-row"]`, 55, "type=invoice.paid"},
		{"audit", "/admin/audit?action=key.created", `[data-testid="audit-row"]`, 55, "action=key.created"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := ops.mustPage(tt.first)
			if n := p.Doc.Find(tt.row).Length(); n != 50 {
				t.Fatalf("page 1 has %d rows, want 50", n)
			}
			if p.Doc.Find(`[data-testid="prev-page"]`).Length() != 0 {
				t.Error("page 1 links to a previous page")
			}
			next, ok := p.Doc.Find(`[data-testid="next-page"]`).Attr("href")
			if !ok || !strings.Contains(next, tt.keep) || !strings.Contains(next, "page=2") {
				t.Fatalf("next link %q must carry %q and page=2", next, tt.keep)
			}
			seen := map[string]bool{}
			p.Doc.Find(tt.row).Each(func(_ int, s *goquery.Selection) { seen[s.Text()] = true })
			p2 := ops.mustPage(next)
			if n := p2.Doc.Find(tt.row).Length(); n != tt.total-50 {
				t.Errorf("page 2 has %d rows, want %d", n, tt.total-50)
			}
			if p2.Doc.Find(`[data-testid="next-page"]`).Length() != 0 {
				t.Error("the last page links to a next one")
			}
			if got := p2.Doc.Find(`[data-testid="pager-range"]`).Text(); got != fmt.Sprintf("51–%d", tt.total) {
				t.Errorf("page 2 says %q", got)
			}
			p2.Doc.Find(tt.row).Each(func(_ int, s *goquery.Selection) {
				if seen[s.Text()] {
					t.Errorf("a row of page 1 is on page 2 too: %q", strings.Join(strings.Fields(s.Text()), " "))
				}
			})
			prev, _ := p2.Doc.Find(`[data-testid="prev-page"]`).Attr("href")
			if !strings.Contains(prev, tt.keep) || strings.Contains(prev, "page=") {
				t.Errorf("previous link %q", prev)
			}
		})
	}
	// Pages past the end are empty, not errors.
	if p := ops.mustPage("/admin/accounts?page=99"); p.Doc.Find(`[data-testid="account-row"]`).Length() != 0 {
		t.Error("page 99 has rows")
	}
}

// TestAdminNeverShowsAFullKey visits every admin page, some filtered,
// with keys created, rotated and used, and looks for any secret.
func TestAdminNeverShowsAFullKey(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	ada := accountID(t, h, "ada@example.com")
	var secrets []string
	var ids []string
	for _, name := range []string{"prod", "staging"} {
		id, secret := b.MustCreateKey(name, nil)
		ids = append(ids, id)
		secrets = append(secrets, secret)
		h.postVerify(t, verifyJSON(secret, ""), nil)
	}
	p := b.Submit("/keys/"+ids[0], "/keys/"+ids[0]+"/rotate", url.Values{"grace": {"1h"}})
	rotated := strings.TrimSpace(p.Doc.Find(`[data-testid="new-key"]`).Text())
	if rotated == "" {
		t.Fatal("no rotated secret")
	}
	secrets = append(secrets, rotated)
	h.postVerify(t, verifyJSON(rotated, ""), nil)
	if err := h.Verifier.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	ops := h.MustAdmin("ops@example.com")
	last4 := rotated[len(rotated)-4:]
	pages := []string{"/admin", "/admin/accounts", "/admin/accounts/" + ada, "/admin/keys", "/admin/keys?q=" + last4,
		"/admin/keys?account=" + ada, "/admin/keys/" + ids[0], "/admin/keys/" + ids[1], "/admin/events", "/admin/audit",
		"/admin/audit?account=" + ada, "/admin/audit?action=key."}
	for _, path := range pages {
		p := ops.mustPage(path)
		for _, s := range secrets {
			if strings.Contains(p.Body, s) || strings.Contains(p.Body, s[8:40]) {
				t.Errorf("%s shows a key", path)
			}
		}
		if p.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s may be cached", path)
		}
	}
	// Found by its last four, shown by its display form.
	p = ops.mustPage("/admin/keys?q=" + last4)
	if rows := p.Doc.Find(`[data-testid="admin-key-row"]`); rows.Length() != 1 || !strings.HasSuffix(strings.TrimSpace(rows.Find(`[data-testid="key-display"]`).Text()), "…"+last4) {
		t.Errorf("search by last four: %d rows", rows.Length())
	}
	if p := ops.mustPage("/admin/keys?q=" + url.QueryEscape("kh_live_…"+last4)); p.Doc.Find(`[data-testid="admin-key-row"]`).Length() != 1 {
		t.Error("search by the display form")
	}
	// A whole key pasted into the search is not kept in the URL or page.
	p = ops.Get("/admin/keys?q=" + rotated)
	if p.StatusCode != http.StatusSeeOther || strings.Contains(p.Header.Get("Location"), rotated) || !strings.Contains(p.Header.Get("Location"), "q="+last4) {
		t.Errorf("whole key search: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	p = ops.mustPage(p.Header.Get("Location"))
	if strings.Contains(p.Body, rotated) || p.Doc.Find(`[data-testid="admin-key-row"]`).Length() != 1 || !strings.Contains(alert(p), "last four") {
		t.Errorf("after the redirect: %q", alert(p))
	}
	// The overview counts the verifications and ranks the keys.
	p = ops.mustPage("/admin")
	if got := p.Doc.Find(`[data-testid="total-valid"]`).Text(); got != "3" {
		t.Errorf("overview valid total %q, want 3", got)
	}
	if n := p.Doc.Find(`[data-testid="top-key"]`).Length(); n != 2 {
		t.Errorf("top keys: %d", n)
	}
	if first, _ := p.Doc.Find(`[data-testid="top-key"]`).First().Attr("data-key-id"); first != ids[0] {
		t.Errorf("the busiest key is %s, want %s", first, ids[0])
	}
	if got := p.Doc.Find(`[data-testid="accounts-count"]`).Text(); got != "2 accounts" {
		t.Errorf("accounts %q", got)
	}
	// The accounts list shows each account's keys and usage this period.
	row := ops.mustPage("/admin/accounts").Doc.Find(`[data-testid="account-row"][data-account-id="` + ada + `"]`)
	if got := strings.Join(strings.Fields(row.Find(`[data-testid="account-keys"]`).Text()), " "); got != "2" {
		t.Errorf("keys %q", got)
	}
	if got := row.Find(`[data-testid="account-usage"]`).Text(); got != "3" {
		t.Errorf("usage %q", got)
	}
}
