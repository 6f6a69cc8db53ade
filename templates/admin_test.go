package templates

import (
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

// testFullKey is a whole key that reaches a view model by mistake: no admin
// page may print it.
const testFullKey = "kh_live_4eC39HqLyjWDarjtT1zdp7dc0A1b2C3d4e5F6g"

func adminLayout(title string) Layout {
	l := testLayout(title, "admin", testAccount(true))
	l.Now = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	return l
}

func testAdminKeys() []AdminKeyRow {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	return []AdminKeyRow{
		{ID: "key_1", Name: "Production", Display: "kh_live_…o5p6", Status: KeyActive, OwnerID: "acc_2", OwnerEmail: "bob@example.com",
			CreatedAt: at, LastUsed: &at, Used: 900, Quota: 1000, Volume: 12345, Overridden: true},
		{ID: "key_2", Name: "Leaky", Display: testFullKey, Status: KeyRevoked, OwnerID: "acc_2", OwnerEmail: "bob@example.com", CreatedAt: at},
	}
}

func testAudit() []AdminAuditRow {
	at := time.Date(2026, 3, 4, 9, 30, 0, 0, time.UTC)
	return []AdminAuditRow{
		{ID: "a1", Action: "key.overrides_changed", Detail: "quota plan → 5", IP: "192.0.2.1", At: at, AccountID: "acc_2",
			AccountEmail: "bob@example.com", ActorID: "acc_1", ActorEmail: "ada@example.com", TargetType: "key", TargetID: "key_1", TargetURL: "/admin/keys/key_1"},
		{ID: "a2", Action: "plan.changed", Detail: "free → pro (Stripe event evt_1)", At: at, AccountID: "acc_2", AccountEmail: "bob@example.com", ActorIsSystem: true},
		{ID: "a3", Action: "account.login_failed", Detail: "Unknown email", IP: "192.0.2.9", At: at},
	}
}

func testPager() AdminPager {
	return AdminPager{First: 51, Last: 100, PrevURL: "/admin/accounts?q=ada", NextURL: "/admin/accounts?page=3&q=ada"}
}

func adminPages() []struct {
	name, title, tab string
	c                templ.Component
} {
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	end := at.AddDate(0, 1, 0)
	return []struct {
		name, title, tab string
		c                templ.Component
	}{
		{"overview", "Operator console · Keyhold", AdminTabOverview, AdminOverview(AdminOverviewPage{Layout: adminLayout("Operator console"),
			Accounts: 3, FailedEvents: 2, Usage: UsageSeries{Unit: UsageByDay, Buckets: []UsageBucket{{Start: at, UsageTotals: UsageTotals{Valid: 5}}}},
			Totals: UsageTotals{Valid: 5}, Plans: []AdminPlan{{ID: "free", Name: "Free", Price: "$0", RatePerSec: 10, Burst: 20, MonthlyQuota: 1000, MaxKeys: 3, Accounts: 3}},
			TopKeys: []AdminKeyVolume{{KeyID: "key_2", Name: "Leaky", Display: testFullKey, OwnerID: "acc_2", OwnerEmail: "bob@example.com", UsageTotals: UsageTotals{Valid: 5}}}})},
		{"accounts", "Accounts · Keyhold", AdminTabAccounts, AdminAccounts(AdminAccountsPage{Layout: adminLayout("Accounts"),
			Filter: AdminAccountFilter{Q: "ada"}, Plans: []AdminOption{{"", "Any"}, {"free", "Free"}}, Statuses: []AdminOption{{"", "Any"}},
			Accounts: []AdminAccountRow{{ID: "acc_1", Email: "ada@example.com", IsAdmin: true, PlanID: "free", PlanName: "Free", LiveKeys: 1, Keys: 2, Used: 1234, CreatedAt: at}},
			Pager:    testPager()})},
		{"account", "bob@example.com · Keyhold", AdminTabAccounts, AdminAccount(AdminAccountPage{Layout: adminLayout("bob@example.com"),
			Account: AdminAccountRow{ID: "acc_2", Email: "bob@example.com", PlanID: "free", PlanName: "Free", CreatedAt: at},
			Plans:   []AdminOption{{"free", "Free"}, {"pro", "Pro"}}, Keys: testAdminKeys(), Audit: testAudit(), AuditURL: "/admin/audit?account=acc_2"})},
		{"account paying", "carol@example.com · Keyhold", AdminTabAccounts, AdminAccount(AdminAccountPage{Layout: adminLayout("carol@example.com"),
			Account: AdminAccountRow{ID: "acc_3", Email: "carol@example.com", PlanID: "pro", PlanName: "Pro", CreatedAt: at},
			Subscription: &AdminSubscription{ID: "sub_1", Status: "active", Live: true, PeriodStart: &at, PeriodEnd: &end, CustomerID: "cus_1",
				CustomerDashboardURL: "https://dashboard.stripe.com/test/customers/cus_1"}, AuditURL: "/admin/audit?account=acc_3"})},
		{"keys", "Keys · Keyhold", AdminTabKeys, AdminKeys(AdminKeysPage{Layout: adminLayout("Keys"), Filter: AdminKeyFilter{Account: "acc_2"},
			AccountEmail: "bob@example.com", Statuses: []AdminOption{{"", "Any"}}, Keys: testAdminKeys(), Pager: AdminPager{First: 1, Last: 2}})},
		{"key", "Production · Keyhold", AdminTabKeys, AdminKey(AdminKeyPage{Layout: adminLayout("Production"), Key: testAdminKeys()[0],
			Scopes: []string{"read"}, PlanName: "Free", Plan: AdminLimits{RatePerSec: 10, Burst: 20, Quota: 1000},
			Effective: AdminLimits{RatePerSec: 10, Burst: 20, Quota: 5}, Form: AdminOverrideForm{Quota: "5"}, Saved: AdminOverrideForm{Quota: "5"}, Audit: testAudit(), AuditURL: "/admin/audit?account=acc_2"})},
		{"leaky key", "Leaky · Keyhold", AdminTabKeys, AdminKey(AdminKeyPage{Layout: adminLayout("Leaky"), Key: testAdminKeys()[1],
			PlanName: "Free", Plan: AdminLimits{RatePerSec: 10, Burst: 20, Quota: 1000}, Effective: AdminLimits{RatePerSec: 10, Burst: 20, Quota: 1000},
			Form: AdminOverrideForm{Rate: "0", Burst: "x"}, Fields: map[string]string{"rate": "The rate limit must be from 1 to 1000000 requests per second.", "burst": "Enter the burst as a whole number."}})},
		{"events", "Stripe events · Keyhold", AdminTabEvents, AdminEvents(AdminEventsPage{Layout: adminLayout("Stripe events"), Enabled: true,
			Outcomes: []AdminOption{{"", "Any"}, {"failed", "Failed"}}, Types: []AdminOption{{"", "Any"}}, Back: "/admin/events?outcome=failed",
			Filter: AdminEventFilter{Outcome: "failed"}, Pager: AdminPager{First: 1, Last: 2},
			Events: []AdminEventRow{
				{ID: "evt_1", Type: "invoice.paid", Outcome: "failed", Detail: "database is locked", ReceivedAt: at, CanReapply: true},
				{ID: "evt_2", Type: "customer.subscription.updated", Outcome: "applied", AccountID: "acc_2", AccountEmail: "bob@example.com", ReceivedAt: at},
			}})},
		{"audit", "Audit log · Keyhold", AdminTabAudit, AdminAudit(AdminAuditPage{Layout: adminLayout("Audit log"),
			Filter: AdminAuditFilter{Account: "acc_2", Action: "key.", From: "2026-03-01"}, AccountEmail: "bob@example.com",
			Actions: []AdminOption{{"", "Any"}, {"key.", "Keys"}}, Entries: testAudit(), Pager: testPager()})},
	}
}

func TestAdminPagesShell(t *testing.T) {
	for _, p := range adminPages() {
		t.Run(p.name, func(t *testing.T) {
			doc, html := render(t, p.c)
			if got := doc.Find("head title").Text(); got != p.title {
				t.Errorf("title %q, want %q", got, p.title)
			}
			if got := doc.Find(`[data-testid="nav"] [aria-current="page"]`).AttrOr("data-nav", ""); got != "admin" {
				t.Errorf("main nav marks %q, want admin", got)
			}
			if got := doc.Find(`[data-testid="admin-nav"] [aria-current="page"]`).AttrOr("data-admin-tab", ""); got != p.tab {
				t.Errorf("console tab %q, want %q", got, p.tab)
			}
			// Every form that changes something carries the CSRF token.
			doc.Find(`form[method="post"]`).Each(func(_ int, f *goquery.Selection) {
				if v, _ := f.Find(`input[name="_csrf"]`).Attr("value"); v != testCSRF {
					t.Errorf("form %s has no CSRF token", f.AttrOr("action", "?"))
				}
			})
			// Filters are GET forms: a filtered view is a URL.
			doc.Find(`[data-testid="admin-filters"]`).Each(func(_ int, f *goquery.Selection) {
				if f.AttrOr("method", "") != "get" || f.Find(`input[name="_csrf"]`).Length() != 0 {
					t.Error("the filters are not a plain GET form")
				}
			})
			if strings.Contains(html, testFullKey) || strings.Contains(html, testFullKey[8:40]) {
				t.Error("the page shows a whole key")
			}
		})
	}
}

func TestAdminPager(t *testing.T) {
	doc, _ := render(t, AdminAccounts(AdminAccountsPage{Layout: adminLayout("Accounts"), Pager: testPager(),
		Accounts: []AdminAccountRow{{ID: "a", Email: "a@example.com"}}}))
	pager := doc.Find(`[data-testid="pager"]`)
	if got := pager.Find(`[data-testid="pager-range"]`).Text(); got != "51–100" {
		t.Errorf("range %q", got)
	}
	if href, _ := pager.Find(`a[rel="prev"]`).Attr("href"); href != "/admin/accounts?q=ada" {
		t.Errorf("prev %q", href)
	}
	if href, _ := pager.Find(`a[rel="next"]`).Attr("href"); href != "/admin/accounts?page=3&q=ada" {
		t.Errorf("next %q", href)
	}
	// The first and only page: both links disabled.
	doc, _ = render(t, AdminAccounts(AdminAccountsPage{Layout: adminLayout("Accounts"), Pager: AdminPager{First: 1, Last: 1},
		Accounts: []AdminAccountRow{{ID: "a", Email: "a@example.com"}}}))
	if doc.Find(`[data-testid="pager"] a`).Length() != 0 || doc.Find(`[data-testid="pager"] [aria-disabled="true"]`).Length() != 2 {
		t.Error("a single page links elsewhere")
	}
	// Empty: an empty state and no pager.
	doc, _ = render(t, AdminAccounts(AdminAccountsPage{Layout: adminLayout("Accounts")}))
	if doc.Find(`[data-testid="admin-empty"]`).Length() != 1 || doc.Find(`[data-testid="pager"]`).Length() != 0 {
		t.Error("empty list")
	}
}

func TestAdminKeyPage(t *testing.T) {
	pages := adminPages()
	doc, _ := render(t, pages[5].c)
	form := doc.Find(`form[data-testid="overrides-form"]`)
	if form.AttrOr("action", "") != "/admin/keys/key_1/overrides" {
		t.Errorf("form action %q", form.AttrOr("action", ""))
	}
	for name, want := range map[string]string{"rate": "", "burst": "", "quota": "5"} {
		in := form.Find(`input[name="` + name + `"]`)
		if in.Length() != 1 || in.AttrOr("value", "x") != want {
			t.Errorf("field %s: %d, value %q", name, in.Length(), in.AttrOr("value", "x"))
		}
	}
	if got := strings.TrimSpace(doc.Find(`[data-testid="limit-quota"]`).Text()); got != "5 a month" {
		t.Errorf("effective quota %q", got)
	}
	if got := doc.Find(`[data-testid="key-limits"]`).Text(); !strings.Contains(got, "Override") {
		t.Error("the overridden quota is not marked")
	}
	if got := doc.Find(`[data-testid="key-owner"]`).AttrOr("href", ""); got != "/admin/accounts/acc_2" {
		t.Errorf("owner link %q", got)
	}
	// An error keeps the input, marks the fields and says why.
	doc, _ = render(t, pages[6].c)
	if !strings.Contains(doc.Find(`[role="alert"]`).Text(), "rate limit") || doc.Find(`input[name="rate"][aria-invalid="true"]`).Length() != 1 {
		t.Error("the form error is not shown")
	}
	for _, name := range []string{"rate", "burst"} {
		in := doc.Find(`input[name="` + name + `"]`)
		ids := strings.Fields(in.AttrOr("aria-describedby", ""))
		if len(ids) != 2 || doc.Find("#"+ids[0]).AttrOr("role", "") != "alert" {
			t.Errorf("%s is described by %q, want its error then its hint", name, ids)
		}
	}
	if af := doc.Find(`[autofocus]`); af.Length() != 1 || af.AttrOr("name", "") != "rate" {
		t.Errorf("autofocus on %q, want the first invalid field", af.AttrOr("name", ""))
	}
	// The submitted values were not saved: the limits card says the plan's.
	if got := doc.Find(`[data-testid="key-limits"]`).Text(); strings.Contains(got, "Override") {
		t.Errorf("a refused save marks a limit overridden: %q", strings.Join(strings.Fields(got), " "))
	}
	if got := doc.Find(`[data-testid="key-display"]`).First().Text(); got != "kh_live_…"+testFullKey[len(testFullKey)-4:] {
		t.Errorf("a whole key shows as %q", got)
	}
}

func TestAdminAccountPlanForm(t *testing.T) {
	pages := adminPages()
	doc, _ := render(t, pages[2].c)
	form := doc.Find(`form[data-testid="plan-form"]`)
	if form.AttrOr("action", "") != "/admin/accounts/acc_2/plan" || form.Find(`select[name="plan"] option[selected]`).AttrOr("value", "") != "free" {
		t.Error("the plan form does not post the plan with the current one chosen")
	}
	if doc.Find(`[data-testid="account-subscription"]`).Text() == "" || !strings.Contains(doc.Find(`[data-testid="subscription-status"]`).Text(), "Never") {
		t.Error("no subscription state")
	}
	// Paying through Stripe: no form, and the customer links to Stripe.
	doc, _ = render(t, pages[3].c)
	if doc.Find(`form[data-testid="plan-form"]`).Length() != 0 || doc.Find(`[data-testid="plan-form-locked"]`).Length() != 1 {
		t.Error("a paying account gets the plan form")
	}
	a := doc.Find(`a[data-testid="stripe-customer"]`)
	if a.AttrOr("href", "") != "https://dashboard.stripe.com/test/customers/cus_1" || a.AttrOr("rel", "") != "noopener noreferrer" {
		t.Errorf("customer link %q", a.AttrOr("href", ""))
	}
}

func TestAdminEvents(t *testing.T) {
	doc, _ := render(t, adminPages()[7].c)
	rows := doc.Find(`[data-testid="event-row"]`)
	if rows.Length() != 2 {
		t.Fatalf("%d rows", rows.Length())
	}
	failed := rows.First()
	form := failed.Find(`form[data-testid="reapply-form"]`)
	if form.AttrOr("action", "") != "/admin/events/evt_1/reapply" || form.Find(`input[name="back"]`).AttrOr("value", "") != "/admin/events?outcome=failed" {
		t.Error("the reapply form does not post back to the list")
	}
	if got := failed.Find(`[data-testid="event-detail"]`).Text(); got != "database is locked" {
		t.Errorf("error %q", got)
	}
	if rows.Last().Find(`form`).Length() != 0 {
		t.Error("an applied event can be applied again")
	}
	if got := rows.Last().Find(`a[href="/admin/accounts/acc_2"]`).Text(); !strings.Contains(got, "bob@example.com") {
		t.Errorf("account %q", got)
	}
}

func TestAdminAuditLog(t *testing.T) {
	doc, _ := render(t, adminPages()[8].c)
	rows := doc.Find(`[data-testid="audit-row"]`)
	want := []struct{ action, who, ip string }{
		{"Changed key limits", "ada@example.com", "192.0.2.1"},
		{"Plan changed by Stripe", "Stripe", "–"},
		{"Failed log-in", "someone not signed in", "192.0.2.9"},
	}
	if rows.Length() != len(want) {
		t.Fatalf("%d rows", rows.Length())
	}
	rows.Each(func(i int, r *goquery.Selection) {
		w := want[i]
		if got := strings.TrimSpace(r.Find(`[data-testid="audit-action"]`).Text()); got != w.action {
			t.Errorf("row %d action %q, want %q", i, got, w.action)
		}
		if got := strings.TrimSpace(r.Find(`[data-testid="audit-actor"]`).Text()); got != w.who {
			t.Errorf("row %d who %q, want %q", i, got, w.who)
		}
		if got := strings.TrimSpace(r.Find(`[data-testid="audit-ip"]`).Text()); got != w.ip {
			t.Errorf("row %d ip %q, want %q", i, got, w.ip)
		}
		if r.Find(`time[datetime]`).Length() != 1 {
			t.Errorf("row %d has no time", i)
		}
	})
	// The filters stay in the form, and the account link keeps the others.
	if doc.Find(`input[name="account"]`).AttrOr("value", "") != "acc_2" || doc.Find(`input[name="from"]`).AttrOr("value", "") != "2026-03-01" ||
		doc.Find(`select[name="action"] option[selected]`).AttrOr("value", "") != "key." {
		t.Error("the filter form lost the filters")
	}
	if href := rows.First().Find(`[data-testid="audit-account"]`).AttrOr("href", ""); href != "/admin/audit?account=acc_2&action=key.&from=2026-03-01" {
		t.Errorf("account link %q", href)
	}
	if href := rows.First().Find(`a[data-testid="audit-action"]`).AttrOr("href", ""); href != "/admin/keys/key_1" {
		t.Errorf("target link %q", href)
	}
}

func TestAdminOverview(t *testing.T) {
	doc, _ := render(t, adminPages()[0].c)
	if got := doc.Find(`[data-testid="failed-events"]`).Text(); !strings.Contains(got, "2 Stripe events failed") {
		t.Errorf("failed events %q", got)
	}
	if doc.Find(`[data-testid="failed-events"] a[href="/admin/events?outcome=failed"]`).Length() != 1 {
		t.Error("no link to the failed events")
	}
	if doc.Find(`[data-testid="overview-chart"] [data-testid="usage-chart"]`).Length() != 1 {
		t.Error("no usage chart")
	}
	if got := doc.Find(`[data-testid="admin-plan"][data-plan="free"] a`).AttrOr("href", ""); got != "/admin/accounts?plan=free" {
		t.Errorf("plan link %q", got)
	}
	if got := doc.Find(`[data-testid="top-key"]`).AttrOr("data-key-id", ""); got != "key_2" {
		t.Errorf("top key %q", got)
	}
}

func TestAdminHelpers(t *testing.T) {
	if got := adminQueryURL("/admin/keys", "q", "", "account", "a b", "status", "active"); got != "/admin/keys?account=a+b&status=active" {
		t.Errorf("query URL %q", got)
	}
	if got := adminQueryURL("/admin/keys", "q", ""); got != "/admin/keys" {
		t.Errorf("empty query URL %q", got)
	}
	if got := failedEventsLine(1, false); got != "1 Stripe event failed." {
		t.Errorf("%q", got)
	}
	if got := failedEventsLine(100, true); got != "100+ Stripe events failed." {
		t.Errorf("%q", got)
	}
	if got := adminKeysLine(2, 3); got != "2 active, 3 in all" {
		t.Errorf("%q", got)
	}
	if got := adminAuditLabel("something.new"); got != "something.new" {
		t.Errorf("unknown action %q", got)
	}
}
