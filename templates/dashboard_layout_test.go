package templates

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDashboardKeysBeforeUsageAndQuickstart checks the order a phone shows
// the dashboard in, which is the document's order: keys, then usage, then
// the quickstart.
func TestDashboardKeysBeforeUsageAndQuickstart(t *testing.T) {
	l := testLayout("Dashboard", "dashboard", testAccount(false))
	l.Now = testNow
	p := DashboardPage{Layout: l, BaseURL: "https://keys.example.com", Keys: testKeys(), Plan: testPlan,
		Usage: UsageView{Days: UsageSeries{Unit: UsageByDay, Buckets: []UsageBucket{{Start: testNow, UsageTotals: UsageTotals{Valid: 3}}}}}}
	_, html := render(t, Dashboard(p))
	var at []int
	for _, id := range []string{`data-testid="dashboard-keys"`, `data-testid="usage-totals"`, `data-testid="account-usage"`, `data-testid="quickstart"`} {
		i := strings.Index(html, id)
		if i < 0 {
			t.Fatalf("no %s", id)
		}
		at = append(at, i)
	}
	for i := 1; i < len(at); i++ {
		if at[i] < at[i-1] {
			t.Errorf("dashboard order: %v, want keys, usage totals, usage chart, quickstart", at)
		}
	}
}

func TestQuickstartFolds(t *testing.T) {
	doc, _ := render(t, Dashboard(DashboardPage{Layout: testLayout("Dashboard", "dashboard", testAccount(false)), Plan: testPlan}))
	qs := doc.Find(`[data-testid="quickstart"]`)
	if nodes := qs.Nodes; len(nodes) != 1 || nodes[0].Data != "details" {
		t.Fatalf("quickstart is not one <details>")
	}
	if _, open := qs.Attr("open"); !open {
		t.Error("quickstart starts folded; it should start open")
	}
	if got, _ := qs.Attr("data-remember"); got != "quickstart" {
		t.Errorf("data-remember = %q, want quickstart (app.js remembers the state under it)", got)
	}
	if s := qs.ChildrenFiltered("summary"); s.Length() != 1 || !strings.Contains(s.Text(), "Quickstart") {
		t.Error("the summary does not name the quickstart")
	}
}

func TestVerifyResponseSample(t *testing.T) {
	tests := []struct {
		name string
		plan Plan
		want []string
	}{
		{"free", Plan{ID: "free", Name: "Free", Burst: 20, RatePerSec: 10, MonthlyQuota: 1000},
			[]string{`"plan": "free"`, `"ratelimit": { "limit": 20, "remaining": 19,`, `"quota": { "limit": 1000, "remaining": 999,`}},
		{"pro", Plan{ID: "pro", Name: "Pro", Burst: 200, RatePerSec: 100, MonthlyQuota: 100_000},
			[]string{`"plan": "pro"`, `"ratelimit": { "limit": 200, "remaining": 199,`, `"quota": { "limit": 100000, "remaining": 99999,`}},
		{"odd id is quoted", Plan{ID: `a"b`, Burst: 1, MonthlyQuota: 1},
			[]string{`"plan": "a\"b"`, `"limit": 1, "remaining": 0,`}},
		{"unknown plan", Plan{}, []string{`"plan": "free"`, `"limit": 10, "remaining": 9`}},
		{"no quota", Plan{ID: "x", Burst: 5}, []string{`"plan": "free"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := verifyResponseSample(tt.plan)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("sample lacks %q:\n%s", w, got)
				}
			}
			// With the ellipses taken out it is JSON.
			var v map[string]any
			if err := json.Unmarshal([]byte(strings.ReplaceAll(got, ", … }", " }")), &v); err != nil {
				t.Errorf("sample is not JSON without its ellipses: %v\n%s", err, got)
			}
		})
	}

	p := testPlan
	p.ID = "free"
	p.Burst, p.MonthlyQuota = 7, 4242
	doc, _ := render(t, Dashboard(DashboardPage{Layout: testLayout("Dashboard", "dashboard", testAccount(false)), Plan: p}))
	if got := doc.Find("#quickstart-response").Text(); !strings.Contains(got, `"limit": 4242, "remaining": 4241`) || !strings.Contains(got, `"limit": 7, "remaining": 6`) {
		t.Errorf("dashboard's example response does not show the plan's numbers:\n%s", got)
	}
}
