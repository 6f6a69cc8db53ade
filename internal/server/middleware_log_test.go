package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/keys"
)

// TestKeysInURLsAreNotLoggedOrEchoed sends requests with a key where a key
// does not belong, in the path: the request log, the error log and the
// answer must not contain it, and the answer is a plain 404.
func TestKeysInURLsAreNotLoggedOrEchoed(t *testing.T) {
	secret, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	live := secret.Reveal()
	root := "kh_root_" + strings.Repeat("Zq9", 12)
	tests := []struct {
		name, method, path, secret string
		signedIn                   bool
		want                       int
	}{
		{"live key as a key id", http.MethodGet, "/keys/" + live, live, true, http.StatusNotFound},
		{"live key as a key id with a trailing slash", http.MethodGet, "/keys/" + live + "/", live, true, http.StatusNotFound},
		{"live key on an edit", http.MethodPost, "/keys/" + live + "/revoke", live, true, http.StatusForbidden},
		{"root key on an unknown path", http.MethodGet, "/anything/" + root, root, false, http.StatusNotFound},
		{"root key with a trailing slash", http.MethodGet, "/anything/" + root + "/", root, false, http.StatusNotFound},
		{"live key in an API path", http.MethodGet, "/v1/" + live, live, false, http.StatusNotFound},
		{"live key as the method", live, "/keys", live, false, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := MustServer(t)
			b := h.Browser()
			if tt.signedIn {
				b.MustSignup("ada@example.com")
			}
			req, err := http.NewRequest(tt.method, h.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			p := b.do(req)
			if p.StatusCode != tt.want {
				t.Errorf("status %d, want %d", p.StatusCode, tt.want)
			}
			random := tt.secret[len("kh_live_"):]
			if strings.Contains(p.Body, random) {
				t.Errorf("the answer shows the key: %.300s", p.Body)
			}
			for k, v := range p.Header {
				if strings.Contains(strings.Join(v, " "), random) || strings.Contains(url.PathEscape(strings.Join(v, " ")), random) {
					t.Errorf("header %s shows the key: %v", k, v)
				}
			}
			logs := h.log.String()
			if strings.Contains(logs, random) {
				t.Errorf("the logs show the key:\n%s", logs)
			}
			if !strings.Contains(logs, "…[redacted]") {
				t.Errorf("no redacted path in the logs:\n%s", logs)
			}
		})
	}
}
