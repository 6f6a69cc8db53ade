package templates

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// hours24 is 24 hours of usage ending with testNow's hour.
func hours24(fn func(i int) UsageTotals) UsageSeries {
	first := testNow.Truncate(time.Hour).Add(-23 * time.Hour)
	s := UsageSeries{Unit: UsageByHour}
	for i := range 24 {
		s.Buckets = append(s.Buckets, UsageBucket{Start: first.Add(time.Duration(i) * time.Hour), UsageTotals: fn(i)})
	}
	return s
}

var testPeriod = UsagePeriod{
	Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
	UsageTotals: UsageTotals{Valid: 1204, RateLimited: 12, QuotaExceeded: 3, ScopeDenied: 5, Invalid: 7, TokenIssued: 40},
}

func testUsage() UsageView {
	return UsageView{
		Period: testPeriod,
		Days: days30(func(i int) UsageTotals {
			return UsageTotals{Valid: int64(i * 40), TokenIssued: int64(i % 4), RateLimited: int64(i % 3), ScopeDenied: int64(i % 5 / 4), Invalid: int64(i % 2)}
		}),
		Hours: hours24(func(i int) UsageTotals {
			if i%4 == 0 {
				return UsageTotals{}
			}
			return UsageTotals{Valid: int64(i), QuotaExceeded: 1}
		}),
	}
}

func detailWithUsage() KeyDetailPage {
	p := testDetail()
	p.Usage = testUsage()
	return p
}

func dashboardWithUsage() DashboardPage {
	l := testLayout("Dashboard", "dashboard", testAccount(false))
	l.Now = testNow
	return DashboardPage{Layout: l, BaseURL: "https://keys.example.com", Keys: testKeys(), Plan: testPlan, Usage: testUsage()}
}

// checkChart checks one rendered chart against its series.
func checkChart(t *testing.T, fig *goquery.Selection, s UsageSeries) {
	t.Helper()
	if fig.Length() != 1 {
		t.Fatalf("%d charts, want 1", fig.Length())
	}
	bars := fig.Find(`[data-chart-bars] > button[type="button"][data-testid="chart-bar"]`)
	if bars.Length() != len(s.Buckets) {
		t.Fatalf("%d bar buttons, want %d", bars.Length(), len(s.Buckets))
	}
	bars.Each(func(i int, bar *goquery.Selection) {
		b := s.Buckets[i]
		want := bucketLabel(s.Unit, b.Start) + ": " + countsPhrase(b.UsageTotals)
		if got, _ := bar.Attr("aria-label"); got != want {
			t.Errorf("bar %d aria-label = %q, want %q", i, got, want)
		}
		// One tab stop: the newest bar; the arrow keys reach the rest.
		wantTab := "-1"
		if i == len(s.Buckets)-1 {
			wantTab = "0"
		}
		if got, _ := bar.Attr("tabindex"); got != wantTab {
			t.Errorf("bar %d tabindex = %q, want %s", i, got, wantTab)
		}
		tip := bar.Find(`[data-testid="chart-tip"]`)
		if !strings.Contains(tip.Text(), bucketLabel(s.Unit, b.Start)) {
			t.Errorf("bar %d: value box %q does not name the bar", i, tip.Text())
		}
		for _, o := range outcomes {
			line := tip.Find(`[data-outcome="` + o.Key + `"]`)
			if !strings.Contains(line.Text(), o.Label) || !strings.HasSuffix(strings.TrimSpace(line.Text()), formatCount(o.count(b.UsageTotals))) {
				t.Errorf("bar %d: value box line %q, want %s %s", i, line.Text(), o.Label, formatCount(o.count(b.UsageTotals)))
			}
		}
		g := fig.Find(`svg g[data-bar="` + strconv.Itoa(i) + `"]`)
		nonzero := 0
		for _, o := range outcomes {
			if o.count(b.UsageTotals) > 0 {
				nonzero++
				if g.Find(`rect[data-outcome="`+o.Key+`"]`).Length() != 1 {
					t.Errorf("bar %d: no %s segment", i, o.Key)
				}
			}
		}
		if got := g.Find("rect[data-outcome]").Length(); got != nonzero {
			t.Errorf("bar %d: %d segments, want %d", i, got, nonzero)
		}
	})
	rows := fig.Find(`[data-testid="usage-table"] tbody tr[data-testid="usage-row"]`)
	if rows.Length() != len(s.Buckets) {
		t.Fatalf("%d table rows, want %d", rows.Length(), len(s.Buckets))
	}
	// Newest first, every outcome in its column.
	rows.Each(func(i int, r *goquery.Selection) {
		b := s.Buckets[len(s.Buckets)-1-i]
		for _, o := range outcomes {
			if got := r.Find(`td[data-outcome="` + o.Key + `"]`).Text(); got != formatCount(o.count(b.UsageTotals)) {
				t.Errorf("row %d %s = %q, want %d", i, o.Key, got, o.count(b.UsageTotals))
			}
		}
		if got := r.Find(`td[data-outcome="total"]`).Text(); got != formatCount(b.Total()) {
			t.Errorf("row %d total = %q", i, got)
		}
	})
	if got := strings.TrimSpace(fig.Find(`[data-testid="usage-table"] summary`).Text()); got != "Show as table" {
		t.Errorf("table summary = %q", got)
	}
	if fig.Find(`[data-testid="chart-legend"] li`).Length() != len(outcomes) {
		t.Error("legend does not name every outcome")
	}
	svg := fig.Find("svg").First()
	if vb, _ := svg.Attr("viewBox"); !strings.HasPrefix(vb, "0 0 ") {
		t.Errorf("viewBox = %q", vb)
	}
	if cls, _ := svg.Attr("class"); !strings.Contains(cls, "size-full") {
		t.Errorf("the SVG does not fill its box (class %q)", cls)
	}
}

// checkNoInlineStyle fails on what style-src 'self' would block.
func checkNoInlineStyle(t *testing.T, doc *goquery.Document) {
	t.Helper()
	if n := doc.Find("style").Length(); n != 0 {
		t.Errorf("%d <style> elements", n)
	}
	doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			if a.Key == "style" || strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s> has attribute %s", goquery.NodeName(s), a.Key)
			}
		}
	})
}

func TestUsageChart(t *testing.T) {
	u := testUsage()
	doc, _ := render(t, usageChart("c", "Verifications per day", u.Days))
	checkChart(t, doc.Find(`[data-testid="usage-chart"]`), u.Days)
	checkNoInlineStyle(t, doc)
	if got := doc.Find(`[data-testid="chart-max"]`).Text(); got != "1.5k" {
		t.Errorf("y-axis max label = %q, want 1.5k (1,163 rounded up)", got)
	}
	x := doc.Find(`[data-testid="chart-x-axis"] [data-testid="chart-tick"]`)
	if x.Length() != 5 || strings.TrimSpace(x.First().Text()) != "Feb 4" || strings.TrimSpace(x.Last().Text()) != "Mar 4" {
		t.Errorf("x-axis labels = %q, want five from Feb 4 to Mar 4", x.Text())
	}
	if cells := doc.Find(`[data-testid="chart-x-axis"] > div`).Length(); cells != 30 {
		t.Errorf("%d x-axis cells, want one under each of the 30 bars", cells)
	}
	if doc.Find(`[data-testid="chart-empty"]`).Length() != 0 {
		t.Error("a chart with data says it is empty")
	}
	valid := doc.Find(`[data-testid="chart-legend"] li[data-outcome="valid"]`).Text()
	if !strings.Contains(valid, "Valid") || !strings.Contains(valid, "17,400") {
		t.Errorf("legend valid = %q, want the 30-day total 17,400", valid)
	}
}

func TestUsageChartEmpty(t *testing.T) {
	doc, _ := render(t, usageChart("c", "Verifications per day", days30(func(int) UsageTotals { return UsageTotals{} })))
	if got := doc.Find(`[data-testid="chart-empty"]`).Text(); !strings.Contains(got, "No verifications in the last 30 days") {
		t.Errorf("empty message = %q", got)
	}
	if doc.Find("rect[data-outcome]").Length() != 0 || doc.Find(`[data-testid="usage-table"]`).Length() != 0 {
		t.Error("an empty chart draws segments or a table")
	}
	if doc.Find(`[data-testid="chart-max"]`).Length() != 0 {
		t.Error("an empty chart has a max label")
	}
	checkNoInlineStyle(t, doc)
}

func TestKeyDetailUsage(t *testing.T) {
	p := detailWithUsage()
	doc, _ := render(t, KeyDetail(p))
	checkNoInlineStyle(t, doc)
	checkChart(t, doc.Find(`[data-testid="usage-days"] [data-testid="usage-chart"]`), p.Usage.Days)
	checkChart(t, doc.Find(`[data-testid="usage-hours"] [data-testid="usage-chart"]`), p.Usage.Hours)
	// The 24-hour axis (Mar 3, 16:00 to Mar 4, 15:00) says the dates.
	var ticks []string
	doc.Find(`[data-testid="usage-hours"] [data-testid="chart-tick"]`).Each(func(_ int, s *goquery.Selection) {
		ticks = append(ticks, strings.Join(strings.Fields(s.Text()), " "))
	})
	if got, want := strings.Join(ticks, " | "), "18:00 Mar 3 | 00:00 Mar 4 | 06:00 Mar 4 | 12:00 Mar 4"; got != want {
		t.Errorf("hour ticks %q, want %q", got, want)
	}
	if got, _ := doc.Find(`input[name="usage-range"][checked]`).Attr("id"); got != "usage-tab-days" {
		t.Errorf("open tab = %q, want the 30 days", got)
	}
	totals := doc.Find(`[data-testid="key-usage"] [data-testid="period-totals"]`)
	for id, want := range map[string]string{"total-valid": "1,204", "total-rate-limited": "12", "total-quota-exceeded": "3", "total-invalid": "7"} {
		if got := totals.Find(`[data-testid="` + id + `"]`).Text(); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	if !strings.Contains(totals.Text(), "Mar 1 – Mar 31, 2026") {
		t.Errorf("period totals do not name the period: %q", totals.Text())
	}
	csv := doc.Find(`a[data-testid="usage-csv"]`)
	if href, _ := csv.Attr("href"); href != "/keys/key_a/usage.csv" || !strings.Contains(csv.Text(), "Download CSV") {
		t.Errorf("CSV link %q %q", href, csv.Text())
	}
}

func TestKeyDetailWithoutUsage(t *testing.T) {
	doc, _ := render(t, KeyDetail(testDetail()))
	if n := doc.Find(`[data-testid="chart-empty"]`).Length(); n != 2 {
		t.Errorf("%d empty charts, want the 30-day and the 24-hour one", n)
	}
	if got := doc.Find(`[data-testid="total-valid"]`).Text(); got != "0" {
		t.Errorf("valid this period = %q", got)
	}
}

func TestDashboardUsage(t *testing.T) {
	p := dashboardWithUsage()
	doc, _ := render(t, Dashboard(p))
	checkNoInlineStyle(t, doc)
	tiles := doc.Find(`[data-testid="usage-totals"] [data-testid="usage-tile"]`)
	if tiles.Length() != 6 {
		t.Fatalf("%d tiles, want 6", tiles.Length())
	}
	for _, tt := range []struct{ outcome, label, value, share string }{
		{"valid", "Valid", "1,204", "95%"}, {"token-issued", "Token issued", "40", "3%"}, {"rate-limited", "Rate limited", "12", "<1%"},
		{"quota-exceeded", "Quota exceeded", "3", "<1%"}, {"scope-denied", "Scope denied", "5", "<1%"},
		{"invalid", "Invalid key", "7", "<1%"},
	} {
		tile := tiles.Filter(`[data-outcome="` + tt.outcome + `"]`)
		if got := strings.TrimSpace(tile.Find("dt").Text()); got != tt.label {
			t.Errorf("%s tile label = %q", tt.outcome, got)
		}
		if got := tile.Find(`[data-testid="total-` + tt.outcome + `"]`).Text(); got != tt.value {
			t.Errorf("%s tile = %q, want %q", tt.outcome, got, tt.value)
		}
		if !strings.Contains(tile.Find("dd").Text(), tt.share) {
			t.Errorf("%s tile share: %q, want %s", tt.outcome, tile.Find("dd").Text(), tt.share)
		}
	}
	if got := doc.Find(`[data-testid="usage-period"]`).Text(); !strings.Contains(got, "Mar 1 – Mar 31, 2026") {
		t.Errorf("period = %q", got)
	}
	checkChart(t, doc.Find(`[data-testid="account-usage"] [data-testid="usage-chart"]`), p.Usage.Days)

	// No keys: the welcome, no usage.
	p.Keys = nil
	doc, _ = render(t, Dashboard(p))
	if doc.Find(`[data-testid="usage-totals"]`).Length() != 0 || doc.Find(`[data-testid="usage-chart"]`).Length() != 0 {
		t.Error("usage shown before the first key")
	}
}

// TestChartClassesAreBuilt checks that the built stylesheet has the fill
// and swatch classes, which exist only as strings in chart.go.
func TestChartClassesAreBuilt(t *testing.T) {
	b, err := os.ReadFile("../static/css/app.css")
	if err != nil {
		t.Fatal(err)
	}
	css := string(b)
	for _, o := range outcomes {
		for _, c := range []string{o.Fill, o.Swatch} {
			if !strings.Contains(css, "."+c+"{") {
				t.Errorf("static/css/app.css has no .%s: run npm run build", c)
			}
		}
	}
}
