package server_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
)

// withAPIVersion is a rendered fixture re-shaped as a Stripe account whose
// webhook endpoint speaks another API version would send it.
func withAPIVersion(t *testing.T, body []byte, version string) []byte {
	t.Helper()
	want := []byte(`"api_version": "` + stripe.APIVersion + `"`)
	if !bytes.Contains(body, want) {
		t.Fatalf("fixture does not carry %s", want)
	}
	return bytes.Replace(body, want, []byte(`"api_version": "`+version+`"`), 1)
}

// TestWebhookWithAnotherAPIVersion checks that a correctly signed event of
// another API version is refused with a message that says so (not as a bad
// signature), is not applied, is recorded as failed with the reason, and
// makes the console's overview warn until a delivery in the right version
// replaces it.
func TestWebhookWithAnotherAPIVersion(t *testing.T) {
	h := MustServer(t)
	ctx := context.Background()
	b := h.Browser()
	b.MustSignup("ada@example.com")
	ada := accountID(t, h, "ada@example.com")
	if _, err := h.DB.SetCustomerID(ctx, ada, "cus_ada"); err != nil {
		t.Fatal(err)
	}
	ops := h.MustAdmin("ops@example.com")
	if ops.mustPage("/admin").Doc.Find(`[data-testid="api-version-alert"]`).Length() != 0 {
		t.Fatal("the overview warns about API versions before any event arrived")
	}

	const other = "2024-06-20"
	good := stripeEvent(t, "customer.subscription.json", map[string]any{"ID": "evt_ver", "Type": "customer.subscription.created",
		"Created": time.Now().Unix(), "Customer": "cus_ada", "Subscription": "sub_ada", "Status": "active", "Price": "price_keyhold_pro"})
	body := withAPIVersion(t, good, other)

	// A bad signature is still a bad signature, whatever the version, and
	// leaves no record.
	if code, resp := h.postWebhook(t, body, "whsec_wrong"); code != http.StatusBadRequest || !strings.Contains(resp, "signature is not valid") {
		t.Errorf("badly signed event of another version: %d %s, want 400 and the signature error", code, resp)
	}
	if _, err := h.DB.StripeEvent(ctx, "evt_ver"); err == nil {
		t.Error("a badly signed event was recorded")
	}

	// Signed, but in another version: 400 with the cause.
	code, resp := h.postWebhook(t, body, testWebhookSecret)
	if code != http.StatusBadRequest {
		t.Errorf("event of API version %s: %d %s, want 400", other, code, resp)
	}
	for _, want := range []string{stripe.APIVersion, other, "API version"} {
		if !strings.Contains(resp, want) {
			t.Errorf("answer %s does not say %q", resp, want)
		}
	}
	if strings.Contains(resp, "signature") {
		t.Errorf("answer %s blames the signature", resp)
	}

	// Not applied: the account is still on Free.
	if c, err := h.DB.Customer(ctx, ada); err != nil || c.PlanID != "free" {
		t.Errorf("after the refused event the account is on %q (%v), want free", c.PlanID, err)
	}

	// Recorded as failed, with the reason, in the console's events.
	ev := ops.mustPage("/admin/events?outcome=failed")
	row := ev.Doc.Find(`[data-event-id="evt_ver"]`)
	if row.Length() != 1 {
		t.Fatalf("the refused event is not among the failed events:\n%s", ev.Body)
	}
	if got := row.Text(); !strings.Contains(got, other) || !strings.Contains(got, stripe.APIVersion) {
		t.Errorf("the failed event's row %q does not name both versions", strings.Join(strings.Fields(got), " "))
	}
	if row.Find(`[data-testid="reapply-form"]`).Length() != 0 {
		t.Error("an event of another API version can be applied again from the console")
	}

	// The overview warns, naming the version that arrived.
	warn := ops.mustPage("/admin").Doc.Find(`[data-testid="api-version-alert"]`)
	if warn.Length() != 1 {
		t.Fatal("the overview does not warn about the event of another API version")
	}
	if got := warn.Text(); !strings.Contains(got, other) || !strings.Contains(got, stripe.APIVersion) {
		t.Errorf("the warning %q does not name both versions", strings.Join(strings.Fields(got), " "))
	}

	// Stripe delivers the same event again once the endpoint is set to our
	// version: applied, and the warning is gone.
	if code, resp := h.postWebhook(t, good, testWebhookSecret); code != http.StatusOK {
		t.Fatalf("the event in version %s: %d %s", stripe.APIVersion, code, resp)
	}
	if c, err := h.DB.Customer(ctx, ada); err != nil || c.PlanID != "pro" {
		t.Errorf("after the redelivery the account is on %q (%v), want pro", c.PlanID, err)
	}
	if ops.mustPage("/admin").Doc.Find(`[data-testid="api-version-alert"]`).Length() != 0 {
		t.Error("the overview still warns after the event was applied in the right version")
	}
}
