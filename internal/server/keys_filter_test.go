package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// TestKeyListFilterAndSort covers /keys?status=&sort= (issue 12, journey
// 9): Active by default, Revoked and All on request; newest first by
// default, by name or last use on request; anything else the defaults,
// never an error page. Each link keeps the other choice in the URL.
func TestKeyListFilterAndSort(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	// Created in this order; Gamma is revoked, only Beta is ever used.
	beta, betaSecret := b.MustCreateKey("Beta", nil)
	alpha, _ := b.MustCreateKey("alpha", nil)
	gamma, _ := b.MustCreateKey("Gamma", nil)
	if p := b.Submit("/keys/"+gamma, "/keys/"+gamma+"/revoke", url.Values{}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", p.StatusCode)
	}
	if resp, _ := h.postVerify(t, verifyJSON(betaSecret, ""), nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("verify: %d", resp.StatusCode)
	}
	if err := h.Verifier.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		query      string
		want       []string
		wantStatus string // the marked filter
		wantSort   string // the marked sort
	}{
		{"", []string{alpha, beta}, "active", "created"},
		{"?status=active", []string{alpha, beta}, "active", "created"},
		{"?status=revoked", []string{gamma}, "revoked", "created"},
		{"?status=all", []string{gamma, alpha, beta}, "all", "created"},
		{"?status=all&sort=name", []string{alpha, beta, gamma}, "all", "name"},
		{"?status=all&sort=used", []string{beta, gamma, alpha}, "all", "used"},
		{"?sort=name", []string{alpha, beta}, "active", "name"},
		{"?status=bogus&sort=%3Cscript%3E", []string{alpha, beta}, "active", "created"},
		{"?status=&sort=", []string{alpha, beta}, "active", "created"},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			p := b.mustPage("/keys" + tc.query)
			var got []string
			p.Doc.Find(`[data-testid="key-row"]`).Each(func(_ int, s *goquery.Selection) {
				id, _ := s.Attr("data-key-id")
				got = append(got, id)
			})
			if !slices.Equal(got, tc.want) {
				t.Errorf("rows %v, want %v", got, tc.want)
			}
			if v, _ := p.Doc.Find(`[data-testid="key-status-filter"] [aria-current]`).Attr("data-value"); v != tc.wantStatus {
				t.Errorf("marked filter %q, want %q", v, tc.wantStatus)
			}
			if v, _ := p.Doc.Find(`[data-testid="key-sort"] [aria-current]`).Attr("data-value"); v != tc.wantSort {
				t.Errorf("marked sort %q, want %q", v, tc.wantSort)
			}
		})
	}

	// The links keep the other choice, and the defaults stay out of the URL.
	p := b.mustPage("/keys?sort=name")
	links := map[string]string{}
	p.Doc.Find(`[data-testid="key-list-filter"] a`).Each(func(_ int, s *goquery.Selection) {
		v, _ := s.Attr("data-value")
		links[v], _ = s.Attr("href")
	})
	want := map[string]string{"active": "/keys?sort=name", "revoked": "/keys?sort=name&status=revoked", "all": "/keys?sort=name&status=all",
		"created": "/keys", "name": "/keys?sort=name", "used": "/keys?sort=used"}
	for v, href := range want {
		if links[v] != href {
			t.Errorf("link %q = %q, want %q", v, links[v], href)
		}
	}

	// A filter that matches nothing says so, rather than the first-key
	// empty state.
	b2 := h.Browser()
	b2.MustSignup("bob@example.com")
	b2.MustCreateKey("only", nil)
	p = b2.mustPage("/keys?status=revoked")
	if p.Doc.Find(`[data-testid="keys-none-match"]`).Length() != 1 || p.Doc.Find(`[data-testid="empty-state"]`).Length() != 0 {
		t.Error("an empty filter result does not say that no key matches")
	}

	// The dashboard still lists every key.
	if n := b.mustPage("/dashboard").Doc.Find(`[data-testid="key-row"]`).Length(); n != 3 {
		t.Errorf("the dashboard lists %d keys, want 3", n)
	}
}
