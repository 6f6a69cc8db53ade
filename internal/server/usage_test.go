package server_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// outcomes counts verify answers (and token exchanges) by the usage outcome
// they are counted as.
type outcomes struct{ valid, rateLimited, quotaExceeded, scopeDenied, invalid, tokenIssued int64 }

func (o *outcomes) count(t *testing.T, code string) {
	t.Helper()
	switch code {
	case "VALID":
		o.valid++
	case "RATE_LIMITED":
		o.rateLimited++
	case "QUOTA_EXCEEDED":
		o.quotaExceeded++
	case "INSUFFICIENT_SCOPE":
		o.scopeDenied++
	case "REVOKED", "EXPIRED", "NOT_FOUND":
		o.invalid++
	default:
		t.Fatalf("unexpected code %s", code)
	}
}

func (o outcomes) plus(p outcomes) outcomes {
	return outcomes{o.valid + p.valid, o.rateLimited + p.rateLimited, o.quotaExceeded + p.quotaExceeded, o.scopeDenied + p.scopeDenied,
		o.invalid + p.invalid, o.tokenIssued + p.tokenIssued}
}

// byTestID reads the counts shown in elements data-testid="total-…" under sel.
func byTestID(t *testing.T, sel *goquery.Selection) outcomes {
	t.Helper()
	n := func(id string) int64 {
		el := sel.Find(`[data-testid="` + id + `"]`)
		if el.Length() != 1 {
			t.Fatalf("%d elements %s", el.Length(), id)
		}
		v, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(el.Text()), ",", ""), 10, 64)
		if err != nil {
			t.Fatalf("%s = %q", id, el.Text())
		}
		return v
	}
	return outcomes{n("total-valid"), n("total-rate-limited"), n("total-quota-exceeded"), n("total-scope-denied"), n("total-invalid"),
		n("total-token-issued")}
}

// TestUsageAfterVerifications makes real verifications of two keys, flushes
// them, and reads them back from the dashboard, the key page and the CSV;
// a token exchange is counted beside them as token_issued.
func TestUsageAfterVerifications(t *testing.T) {
	h := MustServer(t)
	ctx := context.Background()
	ada := h.Browser()
	ada.MustSignup("ada@example.com")
	idA, keyA := ada.MustCreateKey("Prod API / EU", url.Values{"scopes": {"read"}})
	idB, keyB := ada.MustCreateKey("batch", nil)
	quota := int64(4)
	if err := h.DB.SetKeyOverrides(ctx, idB, nil, nil, &quota); err != nil {
		t.Fatal(err)
	}
	h.Verifier.InvalidateKey(idB)

	// Key A: a missing scope is a scope denial and takes no rate; then 30 calls
	// at once pass the free plan's burst of 20.
	var a, b outcomes
	for range 4 {
		_, ans := h.postVerify(t, verifyJSON(keyA, `,"scopes":["admin"]`), nil)
		a.count(t, ans.Code)
	}
	for range 30 {
		_, ans := h.postVerify(t, verifyJSON(keyA, `,"scopes":["read"]`), nil)
		a.count(t, ans.Code)
	}
	// Key B: a quota of 4, one taken by a token exchange, then 3 verifications.
	if resp, ans, raw := h.postToken(t, keyB, `{}`); resp.StatusCode != http.StatusOK || ans.Token == "" {
		t.Fatalf("exchange: %d %s", resp.StatusCode, raw)
	}
	b.tokenIssued++
	for range 5 {
		_, ans := h.postVerify(t, verifyJSON(keyB, ""), nil)
		b.count(t, ans.Code)
	}
	if a.scopeDenied != 4 || a.invalid != 0 || a.valid < 20 || a.rateLimited == 0 || b != (outcomes{valid: 3, quotaExceeded: 2, tokenIssued: 1}) {
		t.Fatalf("the verifications did not go as planned: a %+v, b %+v", a, b)
	}
	if err := h.Verifier.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Format(time.DateOnly)

	t.Run("dashboard tiles are the account's totals this period", func(t *testing.T) {
		p := ada.Get("/dashboard")
		if p.StatusCode != http.StatusOK {
			t.Fatalf("dashboard: %d", p.StatusCode)
		}
		if got, want := byTestID(t, p.Doc.Find(`[data-testid="usage-totals"]`)), a.plus(b); got != want {
			t.Errorf("tiles %+v, want %+v", got, want)
		}
		chart := p.Doc.Find(`[data-testid="account-usage"] [data-testid="usage-chart"]`)
		if n := chart.Find(`[data-testid="chart-bar"]`).Length(); n != 30 {
			t.Errorf("%d bars in the account chart, want 30", n)
		}
		last, _ := chart.Find(`[data-testid="chart-bar"]`).Last().Attr("aria-label")
		if !strings.HasSuffix(last, ": "+strconv.FormatInt(a.valid+b.valid, 10)+" valid, 1 token issued, "+strconv.FormatInt(a.rateLimited, 10)+
			" rate limited, 2 quota exceeded, 4 scope denied, 0 invalid key") {
			t.Errorf("today's bar title = %q", last)
		}
	})

	t.Run("key page totals are the key's", func(t *testing.T) {
		p := ada.Get("/keys/" + idA)
		if p.StatusCode != http.StatusOK {
			t.Fatalf("key page: %d", p.StatusCode)
		}
		if got := byTestID(t, p.Doc.Find(`[data-testid="period-totals"]`)); got != a {
			t.Errorf("key A totals %+v, want %+v", got, a)
		}
		days := p.Doc.Find(`[data-testid="usage-days"] [data-testid="usage-table"] tbody tr`)
		hours := p.Doc.Find(`[data-testid="usage-hours"] [data-testid="usage-table"] tbody tr`)
		if days.Length() != 30 || hours.Length() != 24 {
			t.Fatalf("%d day rows and %d hour rows, want 30 and 24", days.Length(), hours.Length())
		}
		// Newest first: the first rows are today and this hour.
		for name, row := range map[string]*goquery.Selection{"today": days.First(), "this hour": hours.First()} {
			if got := row.Find(`td[data-outcome="valid"]`).Text(); got != strconv.FormatInt(a.valid, 10) {
				t.Errorf("%s valid = %q, want %d", name, got, a.valid)
			}
			if got := row.Find(`td[data-outcome="scope-denied"]`).Text(); got != "4" {
				t.Errorf("%s scope denied = %q, want 4", name, got)
			}
			if got := row.Find(`td[data-outcome="invalid"]`).Text(); got != "0" {
				t.Errorf("%s invalid = %q, want 0", name, got)
			}
		}
		meter := p.Doc.Find(`[data-testid="key-usage"] [role="progressbar"]`)
		if now, _ := meter.Attr("aria-valuenow"); now != strconv.FormatInt(a.valid, 10) {
			t.Errorf("quota used this period = %q, want %d (cost 1 each)", now, a.valid)
		}
		if p.Doc.Find(`[data-testid="key-overview"] time`).Length() < 2 {
			t.Error("no last-used time after verifications")
		}
		if href, _ := p.Doc.Find(`a[data-testid="usage-csv"]`).Attr("href"); href != "/keys/"+idA+"/usage.csv" {
			t.Errorf("CSV link %q", href)
		}
		pb := ada.Get("/keys/" + idB)
		if got := byTestID(t, pb.Doc.Find(`[data-testid="period-totals"]`)); got != b {
			t.Errorf("key B totals %+v, want %+v", got, b)
		}
		rowB := pb.Doc.Find(`[data-testid="usage-days"] [data-testid="usage-table"] tbody tr`).First()
		if got, total := rowB.Find(`td[data-outcome="token-issued"]`).Text(), rowB.Find(`td[data-outcome="total"]`).Text(); got != "1" || total != "6" {
			t.Errorf("key B today: token issued %q, total %q, want 1 and 6", got, total)
		}
		if now, _ := pb.Doc.Find(`[data-testid="key-usage"] [role="progressbar"]`).Attr("aria-valuenow"); now != "4" {
			t.Errorf("key B quota used = %q, want 4 (the exchange costs 1)", now)
		}
	})

	t.Run("CSV export", func(t *testing.T) {
		p := ada.Get("/keys/" + idA + "/usage.csv")
		if p.StatusCode != http.StatusOK {
			t.Fatalf("CSV: %d %s", p.StatusCode, p.Body)
		}
		if ct := p.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		if cd, want := p.Header.Get("Content-Disposition"), `attachment; filename="keyhold-usage-prod-api-eu-`+today+`.csv"`; cd != want {
			t.Errorf("Content-Disposition %q, want %q", cd, want)
		}
		rows, err := csv.NewReader(strings.NewReader(p.Body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 91 {
			t.Fatalf("%d lines, want a header and 90 days", len(rows))
		}
		if got := strings.Join(rows[0], ","); got != "date,valid,rate_limited,quota_exceeded,scope_denied,invalid,token_issued,cost" {
			t.Errorf("header %q", got)
		}
		last := rows[90]
		want := []string{today, strconv.FormatInt(a.valid, 10), strconv.FormatInt(a.rateLimited, 10), "0", "4", "0", "0", strconv.FormatInt(a.valid, 10)}
		if strings.Join(last, ",") != strings.Join(want, ",") {
			t.Errorf("today's row %v, want %v", last, want)
		}
		if first := rows[1][0]; first != time.Now().UTC().AddDate(0, 0, -89).Format(time.DateOnly) || strings.Join(rows[1][1:], ",") != "0,0,0,0,0,0,0" {
			t.Errorf("first row %v, want a quiet day 89 days ago", rows[1])
		}
		// Key B's exchange has its own column, and its cost.
		rowsB, err := csv.NewReader(strings.NewReader(ada.Get("/keys/" + idB + "/usage.csv").Body)).ReadAll()
		if err != nil || len(rowsB) != 91 {
			t.Fatalf("key B CSV: %d rows, %v", len(rowsB), err)
		}
		if got, want := strings.Join(rowsB[90], ","), today+",3,0,2,0,0,1,4"; got != want {
			t.Errorf("key B today's row %q, want %q", got, want)
		}
	})

	t.Run("CSV of another account's key is not found", func(t *testing.T) {
		bob := h.Browser()
		bob.MustSignup("bob@example.com")
		for _, path := range []string{"/keys/" + idA + "/usage.csv", "/keys/nope/usage.csv"} {
			if p := bob.Get(path); p.StatusCode != http.StatusNotFound || strings.Contains(p.Body, "date,valid") {
				t.Errorf("bob GET %s: %d", path, p.StatusCode)
			}
		}
		if p := h.Browser().Get("/keys/" + idA + "/usage.csv"); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/login" {
			t.Errorf("anonymous: %d %s", p.StatusCode, p.Header.Get("Location"))
		}
	})
}

func TestUsageBeforeAnyVerification(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	id, _ := b.MustCreateKey("quiet", nil)
	if got := byTestID(t, b.Get("/dashboard").Doc.Find(`[data-testid="usage-totals"]`)); got != (outcomes{}) {
		t.Errorf("dashboard tiles %+v", got)
	}
	p := b.Get("/keys/" + id)
	if n := p.Doc.Find(`[data-testid="chart-empty"]`).Length(); n != 2 {
		t.Errorf("%d empty charts on a new key, want 2", n)
	}
	csvPage := b.Get("/keys/" + id + "/usage.csv")
	if lines := strings.Count(csvPage.Body, "\n"); csvPage.StatusCode != http.StatusOK || lines != 91 {
		t.Errorf("CSV of a quiet key: %d, %d lines", csvPage.StatusCode, lines)
	}
}
