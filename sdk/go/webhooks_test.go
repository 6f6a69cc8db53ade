package keyhold_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	keyhold "github.com/keyhold/keyhold/sdk/go"
)

// TestWebhookEndpoints: an endpoint's whole life through the SDK against
// a real Keyhold: create (the secret once), list, get, update, roll,
// delete; a bad URL and a missing permission come back as *APIError.
func TestWebhookEndpoints(t *testing.T) {
	ctx := context.Background()
	kh := keyhold.New(keyholdURL, keyhold.WithRootKey(rootKey(t, "webhooks.write")))

	e, err := kh.CreateWebhookEndpoint(ctx, keyhold.NewWebhookEndpoint{URL: "https://example.com/sdk-hook", Description: "SDK",
		Events: []string{"key.created"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e.ID, "we_") || e.URL != "https://example.com/sdk-hook" || !e.Enabled || e.DisabledReason != nil ||
		len(e.Events) != 1 || !strings.HasPrefix(e.Secret, "whsec_") {
		t.Fatalf("created %+v", e)
	}

	got, err := kh.WebhookEndpoint(ctx, e.ID)
	if err != nil || got.ID != e.ID || got.Description != "SDK" {
		t.Fatalf("get %+v, %v", got, err)
	}
	list, err := kh.WebhookEndpoints(ctx, keyhold.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range list.Data {
		found = found || l.ID == e.ID
	}
	if !found {
		t.Errorf("the list has no %s", e.ID)
	}

	off, all := false, []string{}
	up, err := kh.UpdateWebhookEndpoint(ctx, e.ID, keyhold.WebhookEndpointUpdate{Enabled: &off, Events: &all})
	if err != nil || up.Enabled || up.DisabledReason == nil || *up.DisabledReason != "operator" || len(up.Events) != 0 || up.URL != e.URL {
		t.Fatalf("update %+v, %v", up, err)
	}

	rolled, err := kh.RollWebhookSecret(ctx, e.ID)
	if err != nil || rolled.ID != e.ID || !strings.HasPrefix(rolled.Secret, "whsec_") || rolled.Secret == e.Secret {
		t.Fatalf("roll %+v, %v", rolled, err)
	}

	if err := kh.DeleteWebhookEndpoint(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := kh.WebhookEndpoint(ctx, e.ID); !keyhold.IsNotFound(err) {
		t.Errorf("get after delete: %v", err)
	}

	var ae *keyhold.APIError
	_, err = kh.CreateWebhookEndpoint(ctx, keyhold.NewWebhookEndpoint{URL: "https://10.0.0.1/x"})
	if !errors.As(err, &ae) || ae.StatusCode != 422 || len(ae.Errors) == 0 || ae.Errors[0].Location != "body.url" {
		t.Errorf("a private address: %v", err)
	}
	other := keyhold.New(keyholdURL, keyhold.WithRootKey(rootKey(t, "keys.read")))
	if _, err := other.WebhookEndpoints(ctx, keyhold.Page{}); !errors.As(err, &ae) || ae.StatusCode != 403 || !strings.Contains(ae.Detail, "webhooks.write") {
		t.Errorf("without webhooks.write: %v", err)
	}
}
