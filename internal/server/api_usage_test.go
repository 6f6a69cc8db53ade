package server_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"
)

type apiUsage struct {
	Object      string    `json:"object"`
	Granularity string    `json:"granularity"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Data        []struct {
		Start         time.Time `json:"start"`
		Valid         int64     `json:"valid"`
		RateLimited   int64     `json:"rate_limited"`
		QuotaExceeded int64     `json:"quota_exceeded"`
		ScopeDenied   int64     `json:"scope_denied"`
		Invalid       int64     `json:"invalid"`
		Total         int64     `json:"total"`
	} `json:"data"`
}

// TestAPIUsage: verifications of a key made through the API show in its
// series and its account's, in the bucket of now, zeros elsewhere; the
// range's defaults, bounds and errors.
func TestAPIUsage(t *testing.T) { onBoth(t, testAPIUsage) }

func testAPIUsage(t *testing.T, h *harness) {
	root := h.mustRootKey("keys.write", "usage.read")
	acct := apiAccount(t, h, "ada@example.com")
	k := decode[apiKey](t, h.call("POST", "/v1/accounts/"+acct+"/keys", root, map[string]any{"name": "u", "scopes": []string{"read"}}), 201)
	k2 := decode[apiKey](t, h.call("POST", "/v1/accounts/"+acct+"/keys", root, map[string]any{"name": "v"}), 201)
	for range 3 {
		if _, a := h.postVerify(t, verifyJSON(k.Secret, `,"scopes":["read"]`), nil); !a.Valid {
			t.Fatalf("verify: %s", a.Raw)
		}
	}
	if _, a := h.postVerify(t, verifyJSON(k.Secret, `,"scopes":["admin"]`), nil); a.Code != "INSUFFICIENT_SCOPE" {
		t.Fatalf("verify: %s", a.Raw)
	}
	if _, a := h.postVerify(t, verifyJSON(k2.Secret, ""), nil); !a.Valid {
		t.Fatalf("verify: %s", a.Raw)
	}
	if err := h.Verifier.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()

	// Days, by default the last 30: 31 buckets from 30 days ago's midnight.
	u := decode[apiUsage](t, h.call("GET", "/v1/keys/"+k.ID+"/usage", root, nil), 200)
	if u.Object != "usage" || u.Granularity != "day" || len(u.Data) != 31 || !u.From.Equal(now.Truncate(24*time.Hour).AddDate(0, 0, -30)) {
		t.Fatalf("days: %s %v %d", u.Granularity, u.From, len(u.Data))
	}
	for i, b := range u.Data {
		if i > 0 && !b.Start.Equal(u.Data[i-1].Start.AddDate(0, 0, 1)) {
			t.Fatalf("bucket %d starts %v", i, b.Start)
		}
		want := int64(0)
		if i == len(u.Data)-1 {
			want = 3
		}
		if b.Valid != want {
			t.Errorf("bucket %v: valid %d, want %d", b.Start, b.Valid, want)
		}
	}
	if last := u.Data[30]; last.ScopeDenied != 1 || last.Total != 4 || !last.Start.Equal(now.Truncate(24*time.Hour)) {
		t.Errorf("today: %+v", last)
	}

	// Hours, by default the last 24; the account's sums both keys.
	u = decode[apiUsage](t, h.call("GET", "/v1/accounts/"+acct+"/usage?granularity=hour", root, nil), 200)
	if u.Granularity != "hour" || len(u.Data) != 25 {
		t.Fatalf("hours: %d", len(u.Data))
	}
	if last := u.Data[24]; last.Valid != 4 || last.ScopeDenied != 1 || !last.Start.Equal(now.Truncate(time.Hour)) {
		t.Errorf("this hour: %+v", last)
	}
	if u.Data[23].Total != 0 {
		t.Errorf("last hour: %+v", u.Data[23])
	}

	// An explicit range, at its longest, on the hour.
	from := now.Truncate(time.Hour).Add(-31 * 24 * time.Hour)
	q := url.Values{"granularity": {"hour"}, "from": {from.Format(time.RFC3339)}, "to": {now.Truncate(time.Hour).Format(time.RFC3339)}}
	u = decode[apiUsage](t, h.call("GET", "/v1/keys/"+k.ID+"/usage?"+q.Encode(), root, nil), 200)
	if len(u.Data) != 31*24 || !u.Data[0].Start.Equal(from) {
		t.Errorf("31 days of hours: %d from %v", len(u.Data), u.Data[0].Start)
	}
	to := now.Truncate(time.Second)
	q = url.Values{"from": {to.AddDate(0, 0, -366).Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}
	u = decode[apiUsage](t, h.call("GET", "/v1/accounts/"+acct+"/usage?"+q.Encode(), root, nil), 200)
	if n := len(u.Data); n != 367 || u.Data[366].Valid != 4 {
		t.Errorf("366 days: %d buckets, last %+v", n, u.Data[len(u.Data)-1])
	}

	for _, tc := range []struct {
		name, query, location, message string
	}{
		{"from after to", "from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "query.from", "before"},
		{"from is to", "from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "query.from", "before"},
		{"too many days", "from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "query.from", "366 days"},
		{"too many hours", "granularity=hour&from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z", "query.from", "744 hours"},
		{"bad granularity", "granularity=week", "query.granularity", ""},
		{"bad time", "from=yesterday", "query.from", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/v1/keys/" + k.ID + "/usage", "/v1/accounts/" + acct + "/usage"} {
				c := h.call("GET", path+"?"+tc.query, root, nil)
				if c.Status != 422 {
					t.Fatalf("%s: %d %s", path, c.Status, c.Body)
				}
				var found bool
				for _, e := range c.problem(t).Errors {
					found = found || (e.Location == tc.location && strings.Contains(e.Message, tc.message))
				}
				if !found {
					t.Errorf("%s: no error at %s saying %q: %s", path, tc.location, tc.message, c.Body)
				}
			}
		})
	}
	for _, path := range []string{"/v1/keys/nope/usage", "/v1/accounts/nope/usage"} {
		if c := h.call("GET", path, root, nil); c.Status != 404 {
			t.Errorf("%s: %d %s", path, c.Status, c.Body)
		}
	}
}
