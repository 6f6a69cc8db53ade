package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/api/apiclient"
)

// TestAPIClientJourney: an integration's round through the client
// generated from the document: make an account and a key, see the key in
// the account's list, change it, rotate it, revoke it, read its usage.
// Each answer decodes into the document's types, so a field the server
// sends differently from what the document says fails here.
func TestAPIClientJourney(t *testing.T) {
	h := MustServer(t)
	root := h.mustRootKey("accounts.write", "accounts.read", "keys.write", "keys.read", "usage.read")
	c, err := apiclient.NewClientWithResponses(h.URL, apiclient.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+root)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ext, idem := "crm-42", "journey-1"

	acct, err := c.CreateAccountWithResponse(ctx, &apiclient.CreateAccountParams{IdempotencyKey: &idem},
		apiclient.CreateAccountJSONRequestBody{Name: "Globex", ExternalId: &ext})
	if err != nil || acct.JSON201 == nil {
		t.Fatalf("create account: %v %d %s", err, acct.StatusCode(), acct.Body)
	}
	again, err := c.CreateAccountWithResponse(ctx, &apiclient.CreateAccountParams{IdempotencyKey: &idem},
		apiclient.CreateAccountJSONRequestBody{Name: "Globex", ExternalId: &ext})
	if err != nil || again.JSON201 == nil || again.JSON201.Id != acct.JSON201.Id || again.HTTPResponse.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %v %d %s", err, again.StatusCode(), again.Body)
	}
	id := acct.JSON201.Id

	scopes := []string{"read"}
	key, err := c.CreateKeyWithResponse(ctx, id, nil, apiclient.CreateKeyJSONRequestBody{Name: "prod", Scopes: &scopes,
		Ratelimit: &apiclient.RateLimit{Rate: 5, Burst: 7}})
	if err != nil || key.JSON201 == nil {
		t.Fatalf("create key: %v %d %s", err, key.StatusCode(), key.Body)
	}
	k := key.JSON201
	if !strings.HasPrefix(k.Secret, "kh_live_") || k.AccountId != id || k.Status != "active" || k.Ratelimit.Rate != 5 {
		t.Fatalf("key %+v", k)
	}
	if _, a := h.postVerify(t, verifyJSON(k.Secret, ""), nil); !a.Valid || a.RateLimit.Limit != 7 {
		t.Fatalf("the new key: %s", a.Raw)
	}

	status := apiclient.ListKeysParamsStatusActive
	list, err := c.ListKeysWithResponse(ctx, &apiclient.ListKeysParams{AccountId: &id, Status: &status})
	if err != nil || list.JSON200 == nil || len(list.JSON200.Data) != 1 || list.JSON200.Data[0].Id != k.Id || list.JSON200.HasMore {
		t.Fatalf("list: %v %s", err, list.Body)
	}
	name := "production"
	up, err := c.UpdateKeyWithResponse(ctx, k.Id, apiclient.UpdateKeyJSONRequestBody{Name: &name})
	if err != nil || up.JSON200 == nil || up.JSON200.Name != name {
		t.Fatalf("update: %v %s", err, up.Body)
	}
	grace := apiclient.N3600
	rot, err := c.RotateKeyWithResponse(ctx, k.Id, nil, apiclient.RotateKeyJSONRequestBody{GraceSeconds: &grace})
	if err != nil || rot.JSON200 == nil || rot.JSON200.Secret == k.Secret || rot.JSON200.OldSecretExpiresAt == nil {
		t.Fatalf("rotate: %v %s", err, rot.Body)
	}
	rev, err := c.RevokeKeyWithResponse(ctx, k.Id, nil)
	if err != nil || rev.JSON200 == nil || rev.JSON200.Status != "revoked" || rev.JSON200.RevokedAt == nil {
		t.Fatalf("revoke: %v %s", err, rev.Body)
	}
	if _, a := h.postVerify(t, verifyJSON(rot.JSON200.Secret, ""), nil); a.Code != "REVOKED" {
		t.Fatalf("after revoke: %s", a.Raw)
	}
	// Usage is counted in memory and written in batches: write it now.
	if err := h.Verifier.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	usage, err := c.GetKeyUsageWithResponse(ctx, k.Id, nil)
	if err != nil || usage.JSON200 == nil || len(usage.JSON200.Data) == 0 {
		t.Fatalf("usage: %v %s", err, usage.Body)
	}
	var valid int64
	for _, b := range usage.JSON200.Data {
		valid += b.Valid
	}
	// One valid verification (the new key's); the one after the revoke
	// counts as invalid.
	if valid != 1 {
		t.Errorf("usage counts %d valid verifications, want 1", valid)
	}

	// Another account's view: the key is not found by an unknown id.
	missing, err := c.GetKeyWithResponse(ctx, "01jzzzzzzzzzzzzzzzzzzzzzzz")
	if err != nil || missing.StatusCode() != 404 || missing.ApplicationproblemJSON404 == nil {
		t.Fatalf("unknown key: %v %d", err, missing.StatusCode())
	}
}
