package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestTokensEndToEnd exchanges a key made in the portal for a token with
// the real binary, rotates with `keyhold tokens rotate` on the same
// database, and finds both keys published by a server started after.
func TestTokensEndToEnd(t *testing.T) {
	env := testEnv(t, nil)
	r1 := runCommand(t, env, "", "tokens", "rotate")
	r2 := runCommand(t, env, "", "tokens", "rotate")
	kid1, kid2 := strings.TrimSpace(r1.Stdout), strings.TrimSpace(r2.Stdout)
	if r1.Err != nil || r2.Err != nil || kid1 == "" || kid1 == kid2 {
		t.Fatalf("rotate: %q %v, %q %v", r1.Stdout, r1.Err, r2.Stdout, r2.Err)
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
	if !slices.Equal(kids, []string{kid2, kid1}) {
		t.Errorf("published %v, want the rotated key %s then the previous %s", kids, kid2, kid1)
	}
}
