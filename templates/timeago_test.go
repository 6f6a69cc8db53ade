package templates

import (
	"testing"
	"time"
)

func TestTimeAgo(t *testing.T) {
	now := time.Date(2026, 3, 4, 15, 30, 0, 0, time.UTC)
	tests := []struct {
		name string
		ago  time.Duration
		want string
	}{
		{"same instant", 0, "just now"},
		{"seconds", 59 * time.Second, "just now"},
		{"in the future (clock skew)", -5 * time.Second, "just now"},
		{"far in the future", -48 * time.Hour, "just now"},
		{"one minute", time.Minute, "1 minute ago"},
		{"minutes round down", 3*time.Minute + 59*time.Second, "3 minutes ago"},
		{"59 minutes", 59 * time.Minute, "59 minutes ago"},
		{"one hour", time.Hour, "1 hour ago"},
		{"hours", 2*time.Hour + 30*time.Minute, "2 hours ago"},
		{"23 hours", 23*time.Hour + 59*time.Minute, "23 hours ago"},
		{"one day", 24 * time.Hour, "yesterday"},
		{"47 hours", 47 * time.Hour, "yesterday"},
		{"two days", 48 * time.Hour, "2 days ago"},
		{"five days", 5*24*time.Hour + 3*time.Hour, "5 days ago"},
		{"six days", 6*24*time.Hour + 23*time.Hour, "6 days ago"},
		{"a week: the date", 7 * 24 * time.Hour, "Feb 25, 2026"},
		{"last year", 400 * 24 * time.Hour, "Jan 28, 2025"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := timeAgo(now.Add(-tt.ago), now); got != tt.want {
				t.Errorf("timeAgo(now-%v) = %q, want %q", tt.ago, got, tt.want)
			}
		})
	}
}

func TestTimeAgoDateIsUTC(t *testing.T) {
	now := time.Date(2026, 3, 4, 15, 30, 0, 0, time.UTC)
	// 23:30 on Feb 1 in New York is Feb 2 in UTC.
	at := time.Date(2026, 2, 1, 23, 30, 0, 0, time.FixedZone("EST", -5*3600))
	if got, want := timeAgo(at, now), "Feb 2, 2026"; got != want {
		t.Errorf("timeAgo = %q, want %q", got, want)
	}
}

func TestTimeTag(t *testing.T) {
	now := time.Date(2026, 3, 4, 15, 30, 0, 0, time.UTC)
	at := time.Date(2026, 3, 4, 10, 27, 5, 0, time.FixedZone("CET", 3600))
	doc, _ := render(t, timeTag(at, now))
	tag := doc.Find("time")
	if tag.Length() != 1 {
		t.Fatalf("%d time elements, want 1", tag.Length())
	}
	if got := tag.Text(); got != "6 hours ago" {
		t.Errorf("text = %q", got)
	}
	if got, _ := tag.Attr("datetime"); got != "2026-03-04T09:27:05Z" {
		t.Errorf("datetime = %q", got)
	}
	if got, _ := tag.Attr("title"); got != "2026-03-04 09:27:05 UTC" {
		t.Errorf("title = %q", got)
	}
}

func TestTimeTagWithoutNowUsesTheClock(t *testing.T) {
	doc, _ := render(t, timeTag(time.Now().Add(-2*time.Hour), time.Time{}))
	if got := doc.Find("time").Text(); got != "2 hours ago" {
		t.Errorf("text = %q, want 2 hours ago", got)
	}
}
