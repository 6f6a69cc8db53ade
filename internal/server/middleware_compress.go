package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// compressMinBytes is the smallest body worth compressing: below about a
// kilobyte gzip's header and the CPU cost outweigh the bytes saved.
const compressMinBytes = 1024

// compress gzips responses of at least compressMinBytes for clients that
// accept gzip: pages, CSS, JS, JSON and CSV, which are all text and shrink
// to a fifth or less. Every response it may compress says Vary:
// Accept-Encoding, so a shared cache keeps both forms apart.
//
// Left alone: POST /v1/verify, the hot path, whose answers are a few
// hundred bytes and whose latency is the product; /metrics, which the
// Prometheus handler compresses itself; range requests, whose
// Content-Range counts the bytes of the uncompressed file; and answers to
// anything but GET and HEAD, which is where a secret is shown once (a new
// key, a rotated secret): a secret is never in a compressed body, whose
// length could give it away (BREACH), and those pages are few and small.
// The CSRF token on compressed pages is masked anew on each (csrfToken).
func compress() echo.MiddlewareFunc {
	gz := middleware.GzipWithConfig(middleware.GzipConfig{MinLength: compressMinBytes})
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		zipped := gz(next)
		return func(c echo.Context) error {
			switch r := c.Request(); {
			case r.Method != http.MethodGet && r.Method != http.MethodHead,
				r.URL.Path == "/v1/verify", r.URL.Path == "/metrics", r.Header.Get("Range") != "":
				return next(c)
			}
			if !acceptsGzip(c.Request().Header.Values(echo.HeaderAcceptEncoding)) {
				c.Response().Header().Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
				return next(c)
			}
			return zipped(c) // adds Vary itself
		}
	}
}

// acceptsGzip reports whether Accept-Encoding values allow gzip (RFC 9110
// §12.5.3): "gzip" or "*" with a q-value above zero. "gzip;q=0" refuses it,
// which a plain substring test would miss; x-gzip is the same coding.
func acceptsGzip(values []string) bool {
	star, gzip := -1.0, -1.0 // -1: not named
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				name, val, ok := strings.Cut(p, "=")
				if ok && strings.EqualFold(strings.TrimSpace(name), "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
					if err != nil || f < 0 || f > 1 {
						f = 0 // a q-value we cannot read does not grant anything
					}
					q = f
				}
			}
			switch coding {
			case "gzip", "x-gzip":
				gzip = max(gzip, q)
			case "*":
				star = max(star, q)
			}
		}
	}
	if gzip >= 0 {
		return gzip > 0
	}
	return star > 0
}
