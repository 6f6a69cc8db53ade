package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTokensEndToEnd rotates twice with `keyhold tokens rotate` on a new
// database (the first makes the first key, which signs at once; the second
// publishes the next, which signs 6 minutes later), then exchanges a key
// made in the portal for a token with the real binary: the token is
// signed by the first key, and both keys are published, the signing one
// first.
func TestTokensEndToEnd(t *testing.T) {
	env := testEnv(t, nil)
	r1 := runCommand(t, env, "", "tokens", "rotate")
	r2 := runCommand(t, env, "", "tokens", "rotate")
	kid1, kid2 := strings.TrimSpace(r1.Stdout), strings.TrimSpace(r2.Stdout)
	if r1.Err != nil || r2.Err != nil || kid1 == "" || kid1 == kid2 {
		t.Fatalf("rotate: %q %v, %q %v", r1.Stdout, r1.Err, r2.Stdout, r2.Err)
	}
	_, from, ok := strings.Cut(r2.Stderr, "published now; signs from ")
	from, _, _ = strings.Cut(from, "\n")
	at, err := time.Parse(time.RFC3339, from)
	if !ok || err != nil || at.Before(time.Now().Add(5*time.Minute)) || at.After(time.Now().Add(7*time.Minute)) {
		t.Errorf("second rotate said %q on stderr, want it to sign about 6 minutes from now", r2.Stderr)
	}
	a := MustRun(t, env)
	c := a.Client(t)
	c.MustSignup("ada@example.com")
	key := c.MustCreateKey("api", "read")

	req, _ := http.NewRequest(http.MethodPost, a.URL+"/v1/tokens", strings.NewReader(`{"ttl":300}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Token string `json:"token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != 200 || tok.Token == "" {
		t.Fatalf("exchange: %d", resp.StatusCode)
	}
	head, _, _ := strings.Cut(tok.Token, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(head)
	var h struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil || h.KID != kid1 {
		t.Errorf("token signed by %q (%v), want the active key %s, not the one published ahead %s", h.KID, err, kid1, kid2)
	}
	jr, err := http.Get(a.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	_ = json.NewDecoder(jr.Body).Decode(&set)
	jr.Body.Close()
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
	}
	if !slices.Equal(kids, []string{kid1, kid2}) {
		t.Errorf("published %v, want the signing key %s then the next %s", kids, kid1, kid2)
	}
}
