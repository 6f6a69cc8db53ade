package templates

import (
	"strings"
	"testing"
	"time"
)

func TestNoticeSentences(t *testing.T) {
	now := time.Date(2026, 12, 10, 12, 0, 0, 0, time.UTC)
	jan1 := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		n            NoticeBanner
		title, after string
		tone         string
	}{
		{NoticeBanner{Kind: "quota", Level: 80, KeyName: "prod", Used: 856, Limit: 1000, RunsOut: time.Date(2026, 12, 20, 3, 0, 0, 0, time.UTC), WindowEnd: jan1},
			"“prod” has used 85 % of its quota", "At this pace the quota runs out around Dec 20.", kindWarning},
		{NoticeBanner{Kind: "quota", Level: 80, KeyName: "prod", Used: 800, Limit: 1000, WindowEnd: jan1},
			"“prod” has used 80 % of its quota", "At this pace it will not run out this period.", kindWarning},
		{NoticeBanner{Kind: "quota", Level: 80, KeyName: "prod", Used: 800, Limit: 1000, TooEarly: true, WindowEnd: jan1},
			"“prod” has used 80 % of its quota", "The period has only just begun: too early to forecast when it runs out. It renews on Jan 1.", kindWarning},
		{NoticeBanner{Kind: "quota", Level: 100, KeyName: "prod", Used: 1000, Limit: 1000, WindowEnd: jan1},
			"“prod” has used all of its quota", "The quota is used up until Jan 1: verifications answer QUOTA_EXCEEDED until then.", FlashError},
		{NoticeBanner{Kind: "expiry", Level: 7, KeyName: "prod", ExpiresAt: now.Add(70 * time.Hour)},
			"“prod” expires in 3 days", "It stops working on Dec 13 at 10:00 UTC", kindWarning},
		{NoticeBanner{Kind: "expiry", Level: 1, KeyName: "prod", ExpiresAt: now.Add(5*time.Hour + time.Minute)},
			"“prod” expires in 5 hours", "It stops working on Dec 10 at 17:01 UTC", FlashError},
	} {
		if got := noticeTitle(tc.n, now); got != tc.title {
			t.Errorf("title %q, want %q", got, tc.title)
		}
		if got := noticeForecast(tc.n); !strings.HasPrefix(got, tc.after) {
			t.Errorf("forecast %q, want %q…", got, tc.after)
		}
		if got := noticeTone(tc.n); got != tc.tone {
			t.Errorf("%s: tone %q, want %q", tc.title, got, tc.tone)
		}
	}
}

// TestPoolNoticeSentences: a shared quota's notice speaks of the
// account's quota and leads to the dashboard.
func TestPoolNoticeSentences(t *testing.T) {
	now := time.Date(2026, 12, 10, 12, 0, 0, 0, time.UTC)
	jan1 := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	n := NoticeBanner{Kind: "quota", Level: 80, Pool: true, KeyID: "acct", Used: 85_000, Limit: 100_000, RunsOut: time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC), WindowEnd: jan1}
	if got := noticeTitle(n, now); got != "Your account's shared quota is 85 % used" {
		t.Errorf("title %q", got)
	}
	if got := noticeForecast(n); got != "At this pace the quota runs out around Dec 20." {
		t.Errorf("forecast %q", got)
	}
	if got := noticeURL(n); got != "/dashboard" {
		t.Errorf("link %q, want the dashboard", got)
	}
	n.Level, n.Used = 100, 100_000
	if got := noticeTitle(n, now); got != "Your account's shared quota is used up" {
		t.Errorf("title %q", got)
	}
	if got := noticeForecast(n); !strings.HasPrefix(got, "All keys that draw on it answer QUOTA_EXCEEDED until Jan 1") {
		t.Errorf("forecast %q", got)
	}
	if got := noticeTone(n); got != FlashError {
		t.Errorf("tone %q, want red", got)
	}
}
