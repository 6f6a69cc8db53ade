package server_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/static"
)

// rawGet sends a GET with Accept-Encoding set by hand, so Go's client
// leaves the body as the server sent it.
func rawGet(t *testing.T, url, acceptEncoding string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func gunzip(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("body is not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestPagesAndAssetsAreCompressed(t *testing.T) {
	h := MustServer(t)
	tests := []struct {
		name, path, contains string
	}{
		{"login page", "/login", "<!doctype html>"},
		{"stylesheet", static.URL("css/app.css"), "tailwindcss"},
		{"script", static.URL("js/app.js"), "use strict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := rawGet(t, h.URL+tt.path, "gzip, deflate, br")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Encoding"); got != "gzip" {
				t.Fatalf("Content-Encoding = %q, want gzip", got)
			}
			if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Accept-Encoding") {
				t.Errorf("Vary = %q, want Accept-Encoding", resp.Header.Values("Vary"))
			}
			plain := gunzip(t, b)
			if !strings.Contains(strings.ToLower(plain), tt.contains) {
				t.Errorf("decompressed body lacks %q", tt.contains)
			}
			if len(b)*2 > len(plain) {
				t.Errorf("gzip saved little: %d bytes for %d", len(b), len(plain))
			}

			resp, b = rawGet(t, h.URL+tt.path, "")
			if got := resp.Header.Get("Content-Encoding"); got != "" {
				t.Errorf("without Accept-Encoding: Content-Encoding = %q", got)
			}
			if !strings.Contains(strings.ToLower(string(b)), tt.contains) {
				t.Errorf("without Accept-Encoding: body lacks %q", tt.contains)
			}
		})
	}
}

func TestVerifyIsNotCompressed(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	_, secret := b.MustCreateKey("prod", nil)
	for _, key := range []string{secret, "kh_live_nope"} {
		req, _ := http.NewRequest(http.MethodPost, h.URL+"/v1/verify", strings.NewReader(`{"key":"`+key+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("Content-Encoding"); got != "" {
			t.Errorf("verify answered with Content-Encoding %q", got)
		}
		if v := resp.Header.Values("Vary"); len(v) != 0 {
			t.Errorf("verify answered with Vary %q", v)
		}
		if !strings.HasPrefix(string(body), `{"valid":`) {
			t.Errorf("verify body = %q", body)
		}
	}
}

func TestAssetCaching(t *testing.T) {
	h := MustServer(t)
	hashed := static.URL("css/app.css")
	if !strings.Contains(hashed, "?v=") {
		t.Fatalf("static.URL gives no content hash: %q", hashed)
	}
	tests := []struct {
		name, path, cache string
	}{
		{"content-hashed", hashed, "public, max-age=31536000, immutable"},
		{"hashed icon", static.URL("favicon.svg"), "public, max-age=31536000, immutable"},
		{"unhashed", "/static/css/app.css", "no-cache"},
		{"wrong hash", "/static/css/app.css?v=0123456789ab", "no-cache"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := rawGet(t, h.URL+tt.path, "gzip")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control = %q, want %q", got, tt.cache)
			}
		})
	}

	// Every asset a page links to is the hashed one.
	p := h.Browser().Get("/login")
	for _, sel := range []string{`link[rel="stylesheet"]`, `link[rel="icon"]`} {
		if href, _ := p.Doc.Find(sel).Attr("href"); !strings.Contains(href, "?v=") {
			t.Errorf("%s href = %q, want a content-hashed URL", sel, href)
		}
	}
	if src, _ := p.Doc.Find(`script[src]`).Attr("src"); !strings.Contains(src, "?v=") {
		t.Errorf("script src = %q, want a content-hashed URL", src)
	}
}
