package server_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/billing"
)

// mustExec runs SQL on the harness's SQLite file through a connection of
// its own, as an operator (or a failing disk) would change it under the
// running server.
func (h *harness) mustExec(query string, args ...any) {
	h.t.Helper()
	// "sqlite" is the database/sql driver the store registers (glebarez/go-sqlite).
	db, err := sql.Open("sqlite", "file:"+h.DBPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		h.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), query, args...); err != nil {
		h.t.Fatalf("%s: %v", query, err)
	}
}

// planChanges counts the account's plan.changed audit entries: one per
// plan change a Stripe event caused.
func planChanges(t *testing.T, h *harness, accountID string) int {
	t.Helper()
	rows, err := h.DB.AuditLog(context.Background(), auth.AuditQuery{AccountID: accountID, Action: audit.PlanChanged, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return len(rows)
}

// TestStripeWebhookStoreFailureIsRetried: when applying a correctly
// signed event fails inside Keyhold (here the subscriptions table refuses
// writes, as a full disk or a broken migration would), Stripe must be
// answered 5xx so that it retries, the event must not count as processed,
// and Stripe's retry once the database recovers applies it exactly once.
func TestStripeWebhookStoreFailureIsRetried(t *testing.T) {
	h := MustServer(t)
	ctx := context.Background()
	b := h.Browser()
	b.MustSignup("ada@example.com")
	ada := accountID(t, h, "ada@example.com")
	if _, err := h.DB.SetCustomerID(ctx, ada, "cus_ada"); err != nil {
		t.Fatal(err)
	}
	_, key := b.MustCreateKey("prod", nil)
	if _, a := h.postVerify(t, verifyJSON(key, ""), nil); a.Plan != "free" {
		t.Fatalf("before: %s", a.Raw)
	}
	body := stripeEvent(t, "customer.subscription.json", map[string]any{"ID": "evt_fail", "Type": "customer.subscription.created",
		"Created": time.Now().Unix(), "Customer": "cus_ada", "Subscription": "sub_ada", "Status": "active", "Price": "price_keyhold_pro"})

	// A real write failure, not a fake store: SQLite aborts every write to
	// the table the event's effect needs.
	for _, op := range []string{"INSERT", "UPDATE"} {
		h.mustExec(fmt.Sprintf("CREATE TRIGGER subscriptions_unwritable_%[1]s BEFORE %[1]s ON subscriptions BEGIN SELECT RAISE(ABORT, 'subscriptions are unwritable'); END", op))
	}
	for attempt := 1; attempt <= 2; attempt++ {
		code, resp := h.postWebhook(t, body, testWebhookSecret)
		if code < 500 {
			t.Fatalf("attempt %d while the database fails: %d %s, want 5xx so that Stripe retries", attempt, code, resp)
		}
		ev, err := h.DB.StripeEvent(ctx, "evt_fail")
		if err != nil {
			t.Fatalf("attempt %d: the failed event is not recorded: %v", attempt, err)
		}
		if ev.Outcome != billing.OutcomeFailed || ev.Payload == "" || !strings.Contains(ev.Detail, "unwritable") {
			t.Errorf("attempt %d: recorded as %q (%q, payload kept: %v), want failed with the cause and the payload", attempt, ev.Outcome, ev.Detail, ev.Payload != "")
		}
		if c, _ := h.DB.Customer(ctx, ada); c.PlanID != "free" {
			t.Errorf("attempt %d: the failed event changed the plan to %s", attempt, c.PlanID)
		}
	}
	if _, a := h.postVerify(t, verifyJSON(key, ""), nil); a.Plan != "free" {
		t.Errorf("verification after the failed event: %s", a.Raw)
	}
	if !strings.Contains(h.log.String(), "subscriptions are unwritable") {
		t.Error("the internal failure was not logged")
	}

	// The database recovers; Stripe retries, and retries again.
	for _, op := range []string{"INSERT", "UPDATE"} {
		h.mustExec("DROP TRIGGER subscriptions_unwritable_" + op)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		if code, resp := h.postWebhook(t, body, testWebhookSecret); code != http.StatusOK {
			t.Fatalf("retry %d after recovery: %d %s", attempt, code, resp)
		}
	}
	if ev, err := h.DB.StripeEvent(ctx, "evt_fail"); err != nil || ev.Outcome != billing.OutcomeApplied || ev.Payload != "" {
		t.Errorf("after the retries the event is %+v (%v), want applied without its payload", ev, err)
	}
	if c, _ := h.DB.Customer(ctx, ada); c.PlanID != "pro" {
		t.Errorf("after the retries the account is on %s, want pro", c.PlanID)
	}
	if n := planChanges(t, h, ada); n != 1 {
		t.Errorf("%d plan changes recorded, want exactly 1", n)
	}
	if _, a := h.postVerify(t, verifyJSON(key, ""), nil); a.Plan != "pro" || a.Quota.Limit != 100000 {
		t.Errorf("verification after the retry: %s", a.Raw)
	}
}
