package billing_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/keyhold"
)

func (f *fixture) audit(action string) []auth.AuditRecord {
	f.t.Helper()
	rs, err := f.db.AuditLog(context.Background(), auth.AuditQuery{Action: action, Limit: 50})
	if err != nil {
		f.t.Fatal(err)
	}
	return rs
}

func TestReapplyFailedEvent(t *testing.T) {
	f := MustFixture(t, "sqlite", false)
	f.link("cus_1")
	ctx := context.Background()
	ops := audit.Actor{UserID: "ops", IP: "192.0.2.8"} // an operator: a user, acting in no account of these
	ev := event{ID: "evt_fail", Type: "customer.subscription.updated", Customer: "cus_1", Subscription: "sub_1", Status: "active", Price: "price_pro", Created: 100}
	f.db.fail.Store(true)
	if err := f.deliver(ev); err == nil {
		t.Fatal("the injected failure did not fail the event")
	}
	f.db.fail.Store(false)
	if _, err := f.svc.Reapply(ctx, ops, "evt_nope"); keyhold.ErrorCode(err) != keyhold.ENOTFOUND {
		t.Errorf("unknown event: %v", err)
	}
	outcome, err := f.svc.Reapply(ctx, ops, "evt_fail")
	if err != nil || outcome != billing.OutcomeApplied {
		t.Fatalf("reapply: %q %v", outcome, err)
	}
	if plan, _ := f.state(); plan != "pro" {
		t.Errorf("plan after reapply: %s", plan)
	}
	if f.changed.Load() != 1 {
		t.Errorf("plan-changed listeners ran %d times", f.changed.Load())
	}
	if got := f.events(); got["evt_fail"] != billing.OutcomeApplied {
		t.Errorf("events: %v", got)
	}
	// Who asked, and what it changed: the event id in both entries.
	if rs := f.audit(audit.EventReapplied); len(rs) != 1 || rs[0].ActorID != "ops" || rs[0].IP != "192.0.2.8" ||
		rs[0].TargetID != "evt_fail" || !strings.Contains(rs[0].Detail, "applied") {
		t.Errorf("reapply entry: %+v", rs)
	}
	if rs := f.audit(audit.PlanChanged); len(rs) != 1 || rs[0].AccountID != f.account || rs[0].ActorID != "" ||
		!strings.Contains(rs[0].Detail, "evt_fail") || !strings.Contains(rs[0].Detail, "free → pro") {
		t.Errorf("plan change entry: %+v", rs)
	}
	// Applied now: not again.
	if _, err := f.svc.Reapply(ctx, ops, "evt_fail"); keyhold.ErrorCode(err) != keyhold.EINVALID {
		t.Errorf("second reapply: %v", err)
	}
	evs, err := f.svc.Events(ctx, billing.EventQuery{Outcome: billing.OutcomeApplied})
	if err != nil || len(evs) != 1 || evs[0].Payload != "" {
		t.Errorf("applied events: %+v %v", evs, err)
	}
}

func TestReapplyThatFailsAgain(t *testing.T) {
	f := MustFixture(t, "sqlite", false)
	f.link("cus_1")
	ev := event{ID: "evt_x", Type: "customer.subscription.updated", Customer: "cus_1", Subscription: "sub_1", Status: "active", Price: "price_pro", Created: 100}
	f.db.fail.Store(true)
	_ = f.deliver(ev)
	outcome, err := f.svc.Reapply(context.Background(), audit.Actor{UserID: "ops"}, "evt_x")
	if err == nil || outcome != billing.OutcomeFailed {
		t.Fatalf("reapply against a failing database: %q %v", outcome, err)
	}
	if got := f.events(); got["evt_x"] != billing.OutcomeFailed {
		t.Errorf("the event must stay failed: %v", got)
	}
	if rs := f.audit(audit.EventReapplied); len(rs) != 1 || !strings.Contains(rs[0].Detail, "failed") {
		t.Errorf("the attempt is logged: %+v", rs)
	}
}

func TestSetPlanManually(t *testing.T) {
	f := MustFixture(t, "sqlite", false)
	ctx := context.Background()
	ops := audit.Actor{UserID: "ops", IP: "192.0.2.8"} // an operator: a user, acting in no account of these
	if err := f.svc.SetPlanManually(ctx, ops, f.account, "platinum"); keyhold.ErrorCode(err) != keyhold.EINVALID {
		t.Errorf("unknown plan: %v", err)
	}
	if err := f.svc.SetPlanManually(ctx, ops, "nobody", "pro"); keyhold.ErrorCode(err) != keyhold.ENOTFOUND {
		t.Errorf("unknown account: %v", err)
	}
	if err := f.svc.SetPlanManually(ctx, ops, f.account, "business"); err != nil {
		t.Fatal(err)
	}
	if plan, _ := f.state(); plan != "business" || f.changed.Load() != 1 {
		t.Errorf("plan %s, %d listener calls", plan, f.changed.Load())
	}
	if rs := f.audit(audit.PlanAssigned); len(rs) != 1 || rs[0].ActorID != "ops" || rs[0].Detail != "Free → Business, without Stripe" {
		t.Errorf("entry: %+v", rs)
	}
	// The same plan: nothing happens.
	if err := f.svc.SetPlanManually(ctx, ops, f.account, "business"); err != nil || f.changed.Load() != 1 {
		t.Errorf("no-op: %v", err)
	}

	// A paying account is Stripe's to change.
	f.link("cus_1")
	f.mustDeliver(event{ID: "evt_sub", Type: "customer.subscription.updated", Customer: "cus_1", Subscription: "sub_1", Status: "active", Price: "price_pro", Created: 100})
	if err := f.svc.SetPlanManually(ctx, ops, f.account, "free"); keyhold.ErrorCode(err) != keyhold.ECONFLICT || !strings.Contains(keyhold.ErrorMessage(err), "Stripe") {
		t.Errorf("live subscription: %v", err)
	}
	if rs := f.audit(audit.PlanChanged); len(rs) != 1 || !strings.Contains(rs[0].Detail, "business → pro") || !strings.Contains(rs[0].Detail, "evt_sub") {
		t.Errorf("webhook plan change: %+v", rs)
	}
	// Once it is canceled, the operator may comp a plan again.
	f.mustDeliver(event{ID: "evt_cancel", Type: "customer.subscription.deleted", Customer: "cus_1", Subscription: "sub_1", Status: "canceled", Price: "price_pro", Created: 200, CanceledAt: "200"})
	if err := f.svc.SetPlanManually(ctx, ops, f.account, "pro"); err != nil {
		t.Errorf("after cancellation: %v", err)
	}
}

func TestDashboardLinks(t *testing.T) {
	f := MustFixture(t, "sqlite", true) // sk_test_…
	if got := f.svc.CustomerURL("cus_123"); got != "https://dashboard.stripe.com/test/customers/cus_123" {
		t.Errorf("customer URL %q", got)
	}
	if got := f.svc.EventURL("evt_1"); got != "https://dashboard.stripe.com/test/events/evt_1" {
		t.Errorf("event URL %q", got)
	}
	if f.svc.CustomerURL("") != "" || f.svc.EventURL("reconcile:sub_1:1") != "" {
		t.Error("links for nothing")
	}
}
