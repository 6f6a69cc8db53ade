package templates

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// days30 is 30 days of usage ending on testNow's day; fn gives each day's
// counts.
func days30(fn func(i int) UsageTotals) UsageSeries {
	first := testNow.Truncate(24*time.Hour).AddDate(0, 0, -29)
	s := UsageSeries{Unit: UsageByDay}
	for i := range 30 {
		s.Buckets = append(s.Buckets, UsageBucket{Start: first.AddDate(0, 0, i), UsageTotals: fn(i)})
	}
	return s
}

// barHeight is the stacked height of a bar.
func barHeight(b chartBar) float64 {
	h := 0.0
	for _, s := range b.Segments {
		h += s.H
	}
	return h
}

func TestNiceMax(t *testing.T) {
	tests := []struct{ in, want int64 }{
		{-5, 0}, {0, 0}, {1, 1}, {3, 3}, {7, 8}, {10, 10}, {11, 15}, {16, 20}, {21, 25}, {26, 30},
		{99, 100}, {101, 150}, {1204, 1500}, {4001, 5000}, {999_999, 1_000_000}, {1_000_001, 1_500_000},
		{math.MaxInt64 / 2, math.MaxInt64 / 2},
	}
	for _, tt := range tests {
		if got := niceMax(tt.in); got != tt.want {
			t.Errorf("niceMax(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestChartScaling(t *testing.T) {
	s := days30(func(i int) UsageTotals {
		if i == 29 {
			return UsageTotals{Valid: 600, RateLimited: 200, QuotaExceeded: 100, Invalid: 100}
		}
		return UsageTotals{Valid: int64(i)}
	})
	c := newChart(s)
	if c.Max != 1000 {
		t.Fatalf("max = %d, want 1000", c.Max)
	}
	if c.Width != 300 || c.Height != 100 {
		t.Errorf("viewBox %v × %v, want 300 × 100", c.Width, c.Height)
	}
	last := c.Bars[29]
	want := []struct {
		outcome string
		y, h    float64
	}{{"valid", 40, 60}, {"rate-limited", 20, 20}, {"quota-exceeded", 10, 10}, {"invalid", 0, 10}}
	if len(last.Segments) != len(want) {
		t.Fatalf("last bar has %d segments, want 4", len(last.Segments))
	}
	for i, w := range want {
		sg := last.Segments[i]
		if sg.Outcome != w.outcome || sg.Y != w.y || sg.H != w.h {
			t.Errorf("segment %d = %s y %v h %v, want %s y %v h %v", i, sg.Outcome, sg.Y, sg.H, w.outcome, w.y, w.h)
		}
		if sg.X != 291.5 || sg.W != chartBarWidth {
			t.Errorf("segment %d at x %v width %v, want 291.5 and %v", i, sg.X, sg.W, chartBarWidth)
		}
	}
	if got := c.Bars[10]; len(got.Segments) != 1 || got.Segments[0].H != 1.5 {
		t.Errorf("a bar of 10 out of 1000 should be the minimum 1.5 tall: %+v", got.Segments)
	}
	if got := c.Bars[20]; got.Segments[0].H != 2 || got.Segments[0].Y != 98 {
		t.Errorf("20 of 1000: %+v, want height 2 at y 98", got.Segments[0])
	}
	if len(c.Bars[0].Segments) != 0 {
		t.Error("a quiet day has segments")
	}
	// Every 7th day back from the newest: five labels that fit a phone.
	if got, want := ticksOf(c), "1 Feb 4 left-1/2 -translate-x-1/2|8 Feb 11 left-1/2 -translate-x-1/2|15 Feb 18 left-1/2 -translate-x-1/2|"+
		"22 Feb 25 left-1/2 -translate-x-1/2|29 Mar 4 right-0"; got != want {
		t.Errorf("ticks %q, want %q", got, want)
	}
	if c.Total.Valid != 600+29*28/2 || c.Total.RateLimited != 200 {
		t.Errorf("totals %+v", c.Total)
	}
}

func TestChartZeroData(t *testing.T) {
	c := newChart(days30(func(int) UsageTotals { return UsageTotals{} }))
	if !c.Empty() || c.Max != 0 {
		t.Errorf("empty chart: empty %v max %d", c.Empty(), c.Max)
	}
	if len(c.Bars) != 30 {
		t.Fatalf("%d bars, want 30 hover targets", len(c.Bars))
	}
	for _, b := range c.Bars {
		if len(b.Segments) != 0 || b.Title != b.Label+": no verifications" {
			t.Errorf("bar %s: %d segments, title %q", b.Label, len(b.Segments), b.Title)
		}
	}
	none := newChart(UsageSeries{})
	if !none.Empty() || len(none.Bars) != 0 || none.Width <= 0 {
		t.Errorf("no buckets: %+v", none)
	}
}

func TestChartSingleHugeDay(t *testing.T) {
	c := newChart(days30(func(i int) UsageTotals {
		switch i {
		case 3:
			return UsageTotals{Valid: 9_000_000_000, Invalid: 1}
		case 4:
			return UsageTotals{RateLimited: 1}
		}
		return UsageTotals{}
	}))
	if c.Max != 10_000_000_000 {
		t.Errorf("max = %d", c.Max)
	}
	huge := c.Bars[3]
	if h := barHeight(huge); h > chartHeight+1e-9 || h < 90 {
		t.Errorf("huge bar height %v, want 90…100", h)
	}
	if len(huge.Segments) != 2 || huge.Segments[1].Outcome != "invalid" || huge.Segments[1].H != chartMinSegment || huge.Segments[1].Y < 0 {
		t.Errorf("the one invalid call on the huge day is not visible: %+v", huge.Segments)
	}
	if small := c.Bars[4]; len(small.Segments) != 1 || small.Segments[0].H != chartMinSegment || small.Segments[0].Y != chartHeight-chartMinSegment {
		t.Errorf("a single call beside the huge day: %+v", small.Segments)
	}
	full := newChart(days30(func(i int) UsageTotals {
		return UsageTotals{Valid: 997, RateLimited: 1, QuotaExceeded: 1, Invalid: 1}
	}))
	for _, b := range full.Bars {
		if h := barHeight(b); math.Abs(h-chartHeight) > 0.02 || b.Segments[len(b.Segments)-1].Y != 0 {
			t.Fatalf("a bar at the top with minimum segments: height %v, top segment %+v", h, b.Segments[len(b.Segments)-1])
		}
	}
}

func TestChartBarsAndTitles(t *testing.T) {
	c := newChart(days30(func(i int) UsageTotals {
		return UsageTotals{Valid: 1204, RateLimited: 12, Invalid: int64(i)}
	}))
	if len(c.Bars) != 30 {
		t.Fatalf("%d bars, want 30", len(c.Bars))
	}
	for i, b := range c.Bars {
		if b.X != float64(i)*chartSlot || b.W != chartSlot {
			t.Errorf("bar %d slot at %v width %v", i, b.X, b.W)
		}
		if h := barHeight(b); h <= 0 || h > chartHeight {
			t.Errorf("bar %d height %v", i, h)
		}
	}
	if got, want := c.Bars[29].Title, "Mar 4: 1,204 valid, 0 token issued, 12 rate limited, 0 quota exceeded, 0 scope denied, 29 invalid key"; got != want {
		t.Errorf("title = %q, want %q", got, want)
	}
	hours := UsageSeries{Unit: UsageByHour, Buckets: []UsageBucket{
		{Start: time.Date(2026, 3, 4, 14, 0, 0, 0, time.UTC), UsageTotals: UsageTotals{Valid: 3}},
		{Start: time.Date(2026, 3, 4, 15, 0, 0, 0, time.UTC)},
	}}
	h := newChart(hours)
	if got, want := h.Bars[0].Title, "Mar 4, 14:00 UTC: 3 valid, 0 token issued, 0 rate limited, 0 quota exceeded, 0 scope denied, 0 invalid key"; got != want {
		t.Errorf("hour title = %q, want %q", got, want)
	}
	if ticksOf(h) != "" || h.Max != 3 {
		t.Errorf("two hours off the quarter-day marks: ticks %q max %d, want none and 3", ticksOf(h), h.Max)
	}
}

// ticksOf lists a chart's x-axis labels as "index label[ date] align|…".
func ticksOf(c chart) string {
	var out []string
	for i, b := range c.Bars {
		if b.Tick == "" {
			continue
		}
		s := strconv.Itoa(i) + " " + b.Tick
		if b.TickDate != "" {
			s += " " + b.TickDate
		}
		out = append(out, s+" "+b.TickAlign)
	}
	return strings.Join(out, "|")
}

func TestChartHourTicksCarryDates(t *testing.T) {
	// 24 hours from Mar 3, 23:00 to Mar 4, 22:00 UTC.
	first := time.Date(2026, 3, 3, 23, 0, 0, 0, time.UTC)
	s := UsageSeries{Unit: UsageByHour}
	for i := range 24 {
		s.Buckets = append(s.Buckets, UsageBucket{Start: first.Add(time.Duration(i) * time.Hour), UsageTotals: UsageTotals{Valid: 1}})
	}
	c := newChart(s)
	want := "1 00:00 Mar 4 left-1/2 -translate-x-1/2|7 06:00 Mar 4 left-1/2 -translate-x-1/2|" +
		"13 12:00 Mar 4 left-1/2 -translate-x-1/2|19 18:00 Mar 4 left-1/2 -translate-x-1/2"
	if got := ticksOf(c); got != want {
		t.Errorf("ticks %q, want %q", got, want)
	}
	// Hours from 18:00: the first tick is at the left edge, and the date
	// changes at midnight.
	first = time.Date(2026, 3, 3, 18, 0, 0, 0, time.UTC)
	s.Buckets = s.Buckets[:0]
	for i := range 24 {
		s.Buckets = append(s.Buckets, UsageBucket{Start: first.Add(time.Duration(i) * time.Hour)})
	}
	want = "0 18:00 Mar 3 left-0|6 00:00 Mar 4 left-1/2 -translate-x-1/2|12 06:00 Mar 4 left-1/2 -translate-x-1/2|18 12:00 Mar 4 left-1/2 -translate-x-1/2"
	if got := ticksOf(newChart(s)); got != want {
		t.Errorf("ticks %q, want %q", got, want)
	}
}

func TestEdgeAlignAndTipSide(t *testing.T) {
	tests := []struct {
		i, n       int
		align, tip string
	}{
		{0, 30, alignStart, tipRight}, {1, 30, alignCenter, tipRight}, {14, 30, alignCenter, tipRight},
		{15, 30, alignCenter, tipLeft}, {28, 30, alignCenter, tipLeft}, {29, 30, alignEnd, tipLeft},
		{11, 24, alignCenter, tipRight}, {12, 24, alignCenter, tipLeft},
		{0, 1, alignStart, tipRight},
	}
	for _, tt := range tests {
		if got := edgeAlign(tt.i, tt.n); got != tt.align {
			t.Errorf("edgeAlign(%d, %d) = %q, want %q", tt.i, tt.n, got, tt.align)
		}
		if got := tipSide(tt.i, tt.n); got != tt.tip {
			t.Errorf("tipSide(%d, %d) = %q, want %q", tt.i, tt.n, got, tt.tip)
		}
	}
}

func TestFormatCompact(t *testing.T) {
	for in, want := range map[int64]string{
		0: "0", 950: "950", 1000: "1k", 1500: "1.5k", 25_000: "25k", 999_949: "999.9k",
		1_000_000: "1M", 1_250_000: "1.3M", 2_500_000_000: "2.5B",
	} {
		if got := formatCompact(in); got != want {
			t.Errorf("formatCompact(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestShareAndPeriodLabel(t *testing.T) {
	for _, tt := range []struct {
		n, total int64
		want     string
	}{{0, 0, "–"}, {0, 10, "0%"}, {1, 1000, "<1%"}, {1, 3, "33%"}, {10, 10, "100%"}} {
		if got := share(tt.n, tt.total); got != tt.want {
			t.Errorf("share(%d, %d) = %q, want %q", tt.n, tt.total, got, tt.want)
		}
	}
	nov := UsagePeriod{Start: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	if got := periodLabel(nov); got != "Nov 1 – Nov 30, 2026" {
		t.Errorf("calendar month: %q", got)
	}
	stripe := UsagePeriod{Start: time.Date(2026, 12, 15, 9, 30, 0, 0, time.UTC), End: time.Date(2027, 1, 15, 9, 30, 0, 0, time.UTC)}
	if got := periodLabel(stripe); got != "Dec 15, 2026 – Jan 15, 2027" {
		t.Errorf("billing period across a year: %q", got)
	}
	if got := periodLabel(UsagePeriod{}); got != "" {
		t.Errorf("unknown period: %q", got)
	}
}
