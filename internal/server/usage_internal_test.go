package server

import (
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/keys"
)

func TestFileSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Prod API / EU":          "prod-api-eu",
		"  --Ünïcode ключ 2--  ": "n-code-2",
		"日本語":                    "key",
		"":                       "key",
		`a"b\c;d`:                "a-b-c-d",
		strings.Repeat("ab", 40): strings.Repeat("ab", 20),
	} {
		if got := fileSlug(in); got != want {
			t.Errorf("fileSlug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUsageCSV(t *testing.T) {
	d := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	got := string(usageCSV([]keys.DailyUsage{
		{Day: d.AddDate(0, 0, -1)},
		{Day: d, UsageCounts: keys.UsageCounts{Valid: 1204, RateLimited: 12, QuotaExceeded: 1, ScopeDenied: 5, Invalid: 3, TokenIssued: 7, Cost: 2415}},
	}))
	want := "date,valid,rate_limited,quota_exceeded,scope_denied,invalid,token_issued,cost\n2026-11-02,0,0,0,0,0,0,0\n2026-11-03,1204,12,1,5,3,7,2415\n"
	if got != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", got, want)
	}
}
