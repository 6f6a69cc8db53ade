package server

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"x-gzip", true},
		{"gzip, deflate, br", true},
		{"br;q=1.0, gzip;q=0.8", true},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"gzip;q=0, *", false}, // gzip named: the star does not bring it back
		{"*", true},
		{"*;q=0", false},
		{"identity", false},
		{"deflate, br", false},
		{"gzip;q=abc", false},
		{"gzip;q=2", false},
		{"gzipx", false},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			if got := acceptsGzip([]string{tt.header}); got != tt.want {
				t.Errorf("acceptsGzip(%q) = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
	if !acceptsGzip([]string{"br", "gzip"}) {
		t.Error("gzip in a second Accept-Encoding line is not seen")
	}
}

// TestCompressChoosesResponses runs the middleware over a handler that
// writes size bytes of HTML, so each case could be compressed if the rule
// let it: only the rule decides.
func TestCompressChoosesResponses(t *testing.T) {
	tests := []struct {
		name, method, path string
		header             map[string]string
		size               int
		gzip, vary         bool
	}{
		{"page", "GET", "/dashboard", map[string]string{"Accept-Encoding": "gzip"}, 4096, true, true},
		{"exactly the minimum", "GET", "/dashboard", map[string]string{"Accept-Encoding": "gzip"}, compressMinBytes, true, true},
		{"under the minimum", "GET", "/dashboard", map[string]string{"Accept-Encoding": "gzip"}, compressMinBytes - 1, false, true},
		{"no Accept-Encoding", "GET", "/dashboard", nil, 4096, false, true},
		{"gzip refused", "GET", "/dashboard", map[string]string{"Accept-Encoding": "gzip;q=0, br"}, 4096, false, true},
		{"verify is the hot path", "POST", "/v1/verify", map[string]string{"Accept-Encoding": "gzip"}, 4096, false, false},
		{"verify by GET is left alone too", "GET", "/v1/verify", map[string]string{"Accept-Encoding": "gzip"}, 4096, false, false},
		{"answer to a POST (a shown-once secret)", "POST", "/keys", map[string]string{"Accept-Encoding": "gzip"}, 4096, false, false},
		{"head", "HEAD", "/dashboard", map[string]string{"Accept-Encoding": "gzip"}, 4096, true, true},
		{"metrics compress themselves", "GET", "/metrics", map[string]string{"Accept-Encoding": "gzip"}, 4096, false, false},
		{"range request", "GET", "/static/css/app.css", map[string]string{"Accept-Encoding": "gzip", "Range": "bytes=0-99"}, 4096, false, false},
	}
	body := strings.Repeat("<p>Keyhold</p>\n", 1000)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := echo.New()
			h := compress()(func(c echo.Context) error { return c.HTMLBlob(http.StatusOK, []byte(body[:tt.size])) })
			req := httptest.NewRequest(tt.method, tt.path, nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			if err := h(e.NewContext(req, rec)); err != nil {
				t.Fatal(err)
			}
			got := rec.Body.Bytes()
			if enc := rec.Header().Get("Content-Encoding"); (enc == "gzip") != tt.gzip {
				t.Fatalf("Content-Encoding = %q, want gzip: %v", enc, tt.gzip)
			}
			if tt.gzip {
				zr, err := gzip.NewReader(bytes.NewReader(got))
				if err != nil {
					t.Fatal(err)
				}
				if got, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if string(got) != body[:tt.size] {
				t.Errorf("body differs from what the handler wrote (%d bytes, want %d)", len(got), tt.size)
			}
			if vary := strings.Join(rec.Header().Values("Vary"), ","); strings.Contains(vary, "Accept-Encoding") != tt.vary {
				t.Errorf("Vary = %q, want Accept-Encoding: %v", vary, tt.vary)
			}
		})
	}
}

// BenchmarkCompress measures what the middleware costs: on /v1/verify it
// must be a path check and nothing more; on a page it is the gzip itself.
func BenchmarkCompress(b *testing.B) {
	answer := []byte(`{"valid":true,"code":"VALID","key_id":"01k","owner_id":"01a","name":"prod","plan":"free","scopes":["read"],` +
		`"meta":{},"expires_at":null,"ratelimit":{"limit":20,"remaining":19,"reset":"2026-11-27T15:04:05Z"},` +
		`"quota":{"limit":1000,"remaining":999,"reset":"2026-12-01T00:00:00Z","scope":"key"}}`)
	page := []byte(strings.Repeat(`<li class="flex items-center gap-2" data-testid="key-row">Production backend</li>`+"\n", 1200))
	e := echo.New()
	cases := []struct {
		name, method, path string
		body               []byte
		mw                 bool
	}{
		{"verify/bare", "POST", "/v1/verify", answer, false},
		{"verify/compress", "POST", "/v1/verify", answer, true},
		{"page/bare", "GET", "/dashboard", page, false},
		{"page/compress", "GET", "/dashboard", page, true},
	}
	for _, cs := range cases {
		b.Run(cs.name, func(b *testing.B) {
			h := func(c echo.Context) error { return c.Blob(http.StatusOK, "text/html; charset=utf-8", cs.body) }
			if cs.mw {
				h = compress()(h)
			}
			req := httptest.NewRequest(cs.method, cs.path, nil)
			req.Header.Set("Accept-Encoding", "gzip, deflate, br")
			b.SetBytes(int64(len(cs.body)))
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				if err := h(e.NewContext(req, rec)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
