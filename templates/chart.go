package templates

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Geometry of the usage charts, in viewBox units. The SVG is stretched to
// its box (preserveAspectRatio="none"), so only proportions matter; every
// label is HTML beside the SVG, so text stays readable on a phone.
const (
	chartHeight     = 100.0 // viewBox height
	chartSlot       = 10.0  // viewBox width of one bar and its gap
	chartBarWidth   = 7.0   // the bar inside its slot
	chartMinSegment = 1.5   // a segment with any count is at least this tall
)

// outcome is one verification (or token exchange) outcome as the charts draw it.
type outcome struct {
	Key    string // "valid", "rate-limited", …: data-outcome and test ids
	Label  string // "Rate limited"
	Fill   string // SVG fill class
	Swatch string // background class of the legend's swatch
	count  func(UsageTotals) int64
}

// outcomes in stacking order, bottom first. The class names are literal so
// Tailwind, which scans this file, builds them.
var outcomes = []outcome{
	{"valid", "Valid", "fill-indigo-500", "bg-indigo-500", func(t UsageTotals) int64 { return t.Valid }},
	{"token-issued", "Token issued", "fill-emerald-500", "bg-emerald-500", func(t UsageTotals) int64 { return t.TokenIssued }},
	{"rate-limited", "Rate limited", "fill-amber-400", "bg-amber-400", func(t UsageTotals) int64 { return t.RateLimited }},
	{"quota-exceeded", "Quota exceeded", "fill-red-500", "bg-red-500", func(t UsageTotals) int64 { return t.QuotaExceeded }},
	{"scope-denied", "Scope denied", "fill-sky-400", "bg-sky-400", func(t UsageTotals) int64 { return t.ScopeDenied }},
	{"invalid", "Invalid key", "fill-gray-300", "bg-gray-300", func(t UsageTotals) int64 { return t.Invalid }},
}

// chartSegment is one outcome's part of a bar.
type chartSegment struct {
	Outcome    string // outcome key
	Fill       string
	X, Y, W, H float64
}

// chartBar is one day or hour.
type chartBar struct {
	Start    time.Time
	Label    string  // "Nov 3" or "Nov 3, 14:00 UTC"
	Title    string  // its numbers in words: "Nov 3: 1,204 valid, 12 rate limited, …"
	X, W     float64 // the whole slot
	Segments []chartSegment
	UsageTotals
	// Tick is the x-axis label under the bar ("Nov 3", or "14:00" with
	// TickDate "Nov 3" for an hour); empty: none.
	Tick, TickDate string
	// TickAlign places the tick so that it stays inside the chart at its
	// edges; TipSide puts the bar's value box beside it, towards the
	// middle (literal classes, for Tailwind).
	TickAlign, TipSide string
}

// chart is a stacked bar chart laid out in a viewBox of Width × Height.
type chart struct {
	Unit          string
	Width, Height float64
	Max           int64 // the value at the top of the plot; 0 when empty
	Bars          []chartBar
	Total         UsageTotals // of every bar
}

// Ticks under a chart: a day chart labels every 7th day counting back from
// the newest, an hour chart every hour that starts a quarter of the day
// (00:00, 06:00, …), which gives four or five labels that fit a phone.
const (
	dayTickEvery  = 7
	hourTickEvery = 6
)

// Placement classes of ticks and value boxes, literal so Tailwind builds
// them: at the left edge, centred under the bar, at the right edge.
const (
	alignStart  = "left-0"
	alignCenter = "left-1/2 -translate-x-1/2"
	alignEnd    = "right-0"
)

// edgeAlign places the tick under bar i of n: the first from the left
// edge, the last from the right, the others centred.
func edgeAlign(i, n int) string {
	switch {
	case i == 0:
		return alignStart
	case i == n-1:
		return alignEnd
	}
	return alignCenter
}

// Sides of a bar's value box: at the top of the plot, right of a bar in the
// left half, left of one in the right half, so it stays inside the chart
// and leaves the bar itself in view.
const (
	tipRight = "left-full ml-1"
	tipLeft  = "right-full mr-1"
)

// tipSide is the side of bar i of n its value box goes.
func tipSide(i, n int) string {
	if 2*i < n {
		return tipRight
	}
	return tipLeft
}

// isTick reports whether bar i of n, starting at t, carries an axis label.
func isTick(unit string, i, n int, t time.Time) bool {
	if unit == UsageByHour {
		return t.UTC().Hour()%hourTickEvery == 0
	}
	return (n-1-i)%dayTickEvery == 0
}

// Empty reports whether there is nothing to draw.
func (c chart) Empty() bool { return c.Total.Total() == 0 }

// newChart lays s out.
func newChart(s UsageSeries) chart {
	c := chart{Unit: s.Unit, Width: chartSlot * float64(max(len(s.Buckets), 1)), Height: chartHeight}
	var top int64
	for _, b := range s.Buckets {
		top = max(top, b.Total())
		c.Total.Valid += b.Valid
		c.Total.RateLimited += b.RateLimited
		c.Total.QuotaExceeded += b.QuotaExceeded
		c.Total.ScopeDenied += b.ScopeDenied
		c.Total.Invalid += b.Invalid
		c.Total.TokenIssued += b.TokenIssued
	}
	c.Max = niceMax(top)
	for i, b := range s.Buckets {
		bar := chartBar{Start: b.Start, Label: bucketLabel(s.Unit, b.Start), X: float64(i) * chartSlot, W: chartSlot, UsageTotals: b.UsageTotals}
		bar.Title = bar.Label + ": " + countsPhrase(b.UsageTotals)
		bar.Segments = stack(b.UsageTotals, c.Max, bar.X+(chartSlot-chartBarWidth)/2)
		n := len(s.Buckets)
		if isTick(s.Unit, i, n, b.Start) {
			bar.Tick = axisLabel(s.Unit, b.Start)
			if s.Unit == UsageByHour {
				bar.TickDate = b.Start.UTC().Format("Jan 2")
			}
			bar.TickAlign = edgeAlign(i, n)
		}
		bar.TipSide = tipSide(i, n)
		c.Bars = append(c.Bars, bar)
	}
	return c
}

// stack lays out the segments of one bar at x, bottom up: each outcome's
// height is its share of top, at least chartMinSegment when it has any
// count, and the bar never rises above the plot.
func stack(t UsageTotals, top int64, x float64) []chartSegment {
	if top <= 0 || t.Total() == 0 {
		return nil
	}
	var segs []chartSegment
	sum, tallest := 0.0, -1
	for _, o := range outcomes {
		n := o.count(t)
		if n <= 0 {
			continue
		}
		h := max(float64(n)/float64(top)*chartHeight, chartMinSegment)
		segs = append(segs, chartSegment{Outcome: o.Key, Fill: o.Fill, X: x, W: chartBarWidth, H: h})
		if tallest < 0 || h > segs[tallest].H {
			tallest = len(segs) - 1
		}
		sum += h
	}
	if over := sum - chartHeight; over > 0 {
		segs[tallest].H -= over
	}
	y := chartHeight
	for i := range segs {
		segs[i].H = round2(segs[i].H)
		y -= segs[i].H
		segs[i].Y = round2(max(y, 0))
	}
	return segs
}

// niceMax is the top of a chart's scale: the smallest of 1, 2, 3, 4, 5, 6,
// 8 and (from 10 on) 1.5 and 2.5 times a power of ten that is at least v,
// so the axis label is a round number; 0 for v ≤ 0.
func niceMax(v int64) int64 {
	if v <= 0 {
		return 0
	}
	for p := int64(1); ; p *= 10 {
		steps := []int64{p, 2 * p, 3 * p, 4 * p, 5 * p, 6 * p, 8 * p, 10 * p}
		if p >= 10 {
			steps = []int64{p, p + p/2, 2 * p, p*2 + p/2, 3 * p, 4 * p, 5 * p, 6 * p, 8 * p, 10 * p}
		}
		for _, s := range steps {
			if s >= v {
				return s
			}
		}
		if p > math.MaxInt64/100 {
			return v
		}
	}
}

// round2 rounds to two decimals, enough for a 100-unit viewBox.
func round2(f float64) float64 { return math.Round(f*100) / 100 }

// num writes a viewBox coordinate: 12.5, 7, 0.33.
func num(f float64) string { return strconv.FormatFloat(round2(f), 'f', -1, 64) }

// bucketLabel names a bar: "Nov 3" for a day, "Nov 3, 14:00 UTC" for an
// hour.
func bucketLabel(unit string, t time.Time) string {
	if unit == UsageByHour {
		return t.UTC().Format("Jan 2, 15:04 UTC")
	}
	return t.UTC().Format("Jan 2")
}

// axisLabel is the label under a bar: "Nov 3", or "14:00" for an hour.
func axisLabel(unit string, t time.Time) string {
	if unit == UsageByHour {
		return t.UTC().Format("15:04")
	}
	return t.UTC().Format("Jan 2")
}

// countsPhrase says a bar's counts: "1,204 valid, 12 rate limited, 0 quota
// exceeded, 3 invalid", or "no verifications".
func countsPhrase(t UsageTotals) string {
	if t.Total() == 0 {
		return "no verifications"
	}
	parts := make([]string, len(outcomes))
	for i, o := range outcomes {
		parts[i] = formatCount(o.count(t)) + " " + strings.ToLower(o.Label)
	}
	return strings.Join(parts, ", ")
}

// formatCompact writes n briefly for an axis: 950, 1.5k, 25k, 1.2M.
func formatCompact(n int64) string {
	f := float64(n)
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10)
	case n < 1_000_000:
		return strconv.FormatFloat(math.Round(f/100)/10, 'f', -1, 64) + "k"
	case n < 1_000_000_000:
		return strconv.FormatFloat(math.Round(f/100_000)/10, 'f', -1, 64) + "M"
	default:
		return strconv.FormatFloat(math.Round(f/100_000_000)/10, 'f', -1, 64) + "B"
	}
}

// newestFirst is the bars of a chart's table, newest first.
func newestFirst(bars []chartBar) []chartBar {
	out := make([]chartBar, len(bars))
	for i, b := range bars {
		out[len(bars)-1-i] = b
	}
	return out
}

// tableDate is a bar's first column in the table: "Nov 3, 2026" for a
// day, "Nov 3, 14:00" for an hour.
func tableDate(unit string, t time.Time) string {
	if unit == UsageByHour {
		return t.UTC().Format("Jan 2, 15:04")
	}
	return shortDate(t)
}

// share is n of total in whole percent, "–" when total is 0; under 1 %
// but not none is "<1%".
func share(n, total int64) string {
	switch {
	case total <= 0:
		return "–"
	case n > 0 && n*100 < total:
		return "<1%"
	}
	return strconv.FormatInt(int64(math.Round(float64(n)*100/float64(total))), 10) + "%"
}

// periodLabel is the quota window as a range of dates, "Nov 1 – Nov 30,
// 2026", or "" when it is not known.
func periodLabel(p UsagePeriod) string {
	if p.Start.IsZero() || !p.End.After(p.Start) {
		return ""
	}
	last := p.End.Add(-time.Nanosecond).UTC()
	start := p.Start.UTC()
	if start.Year() == last.Year() {
		return start.Format("Jan 2") + " – " + last.Format("Jan 2, 2006")
	}
	return start.Format("Jan 2, 2006") + " – " + last.Format("Jan 2, 2006")
}
