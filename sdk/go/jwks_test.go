package keyhold

import (
	"testing"
	"time"
)

// TestMaxAge checks how long the keys of a JWKS answer are kept.
func TestMaxAge(t *testing.T) {
	for cc, want := range map[string]time.Duration{
		"public, max-age=300":       5 * time.Minute,
		"max-age=7200":              2 * time.Hour,
		"MAX-AGE=600, public":       10 * time.Minute,
		"max-age=5":                 minRefresh,
		"max-age=0":                 minRefresh,
		"no-store":                  defaultMaxAge,
		"":                          defaultMaxAge,
		"max-age=abc":               defaultMaxAge,
		"max-age=-1":                defaultMaxAge,
		"max-age=9999999999999999":  maxMaxAge,
		`max-age="120"`:             2 * time.Minute,
		"s-maxage=10, max-age=3600": time.Hour,
	} {
		if got := maxAge(cc); got != want {
			t.Errorf("maxAge(%q) = %s, want %s", cc, got, want)
		}
	}
}
