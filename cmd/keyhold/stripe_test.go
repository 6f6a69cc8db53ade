package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/testenv"
)

// TestStripeReconcile: stripe-mock lists one active subscription, of
// customer cus_QXg1o8vcGmoR32 on price_1PgafmB7WZ01zgkW6dKueIc5; an account
// linked to that customer, whose webhook never came, is repaired.
func TestStripeReconcile(t *testing.T) {
	plansFile := filepath.Join(t.TempDir(), "plans.json")
	err := os.WriteFile(plansFile, []byte(`[
 {"id":"free","name":"Free","price":"$0","stripe_price_id":"","rate_per_second":10,"burst":20,"monthly_quota":1000,"max_keys":3},
 {"id":"pro","name":"Pro","price":"$29/mo","stripe_price_id":"price_1PgafmB7WZ01zgkW6dKueIc5","rate_per_second":100,"burst":200,"monthly_quota":100000,"max_keys":10}]`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	env := testEnv(t, map[string]string{"STRIPE_SECRET_KEY": "sk_test_123", "STRIPE_API_BASE": testenv.StripeMock(t), "KEYHOLD_PLANS_FILE": plansFile})

	if r := runCommand(t, env, "a long enough password\n", "admin", "create-user", "--email", "ada@example.com", "--password-stdin"); r.Err != nil {
		t.Fatal(r.Err)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, env["KEYHOLD_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := db.UserByEmail(ctx, "ada@example.com") // her personal account shares her id
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SetCustomerID(ctx, a.ID, "cus_QXg1o8vcGmoR32"); err != nil {
		t.Fatal(err)
	}

	r := runCommand(t, env, "", "stripe", "reconcile")
	if r.Err != nil {
		t.Fatalf("reconcile: %v\n%s", r.Err, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "account "+a.ID) || !strings.Contains(r.Stdout, "plan pro") || !strings.Contains(r.Stdout, "1 applied") {
		t.Errorf("reconcile output: %q", r.Stdout)
	}
	if got, _ := db.AccountByID(ctx, a.ID); got.PlanID != "pro" {
		t.Errorf("plan after reconcile: %q", got.PlanID)
	}
	// Nothing left to repair: the second run compares the stored state
	// with Stripe's and finds them equal (it records so under its own id,
	// even within the same second as the first run).
	if r := runCommand(t, env, "", "stripe", "reconcile"); r.Err != nil || !strings.Contains(r.Stdout, "0 applied") {
		t.Errorf("second reconcile: %v %q", r.Err, r.Stdout)
	}
	if got := reconcileDetails(t, db); len(got) != 2 || got[0] != "no change" {
		t.Errorf("reconcile records %q, want the second run's \"no change\" on top of the first's", got)
	}
	// Changed by hand between runs: the next run puts it back.
	if err := db.AssignPlan(ctx, a.ID, "free", audit.Entry{ID: keyhold.NewID(), AccountID: a.ID, Action: audit.PlanAssigned, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if r := runCommand(t, env, "", "stripe", "reconcile"); r.Err != nil || !strings.Contains(r.Stdout, "account "+a.ID) || !strings.Contains(r.Stdout, "1 applied") {
		t.Errorf("reconcile after a local change: %v %q", r.Err, r.Stdout)
	}
	if got, _ := db.AccountByID(ctx, a.ID); got.PlanID != "pro" {
		t.Errorf("plan after the repairing reconcile: %q, want pro", got.PlanID)
	}
	// Without a Stripe key it says what is missing.
	delete(env, "STRIPE_SECRET_KEY")
	if r := runCommand(t, env, "", "stripe", "reconcile"); r.Err == nil || !strings.Contains(r.Err.Error(), "STRIPE_SECRET_KEY") {
		t.Errorf("without a key: %v", r.Err)
	}
	if r := runCommand(t, env, "", "stripe"); r.Err == nil || !strings.Contains(r.Stderr, "reconcile") {
		t.Errorf("usage: %v %q", r.Err, r.Stderr)
	}
}

// reconcileDetails returns what reconcile runs recorded, newest first.
func reconcileDetails(t *testing.T, db *store.DB) []string {
	t.Helper()
	rows, err := db.StripeEvents(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		if r.Type == "reconcile" {
			out = append(out, r.Detail)
		}
	}
	return out
}

// TestStripeReconcileReachesRunningInstances: a plan repaired by the
// reconcile command (its own process) applies to the next verification of
// an instance that has the key cached, through Redis.
func TestStripeReconcileReachesRunningInstances(t *testing.T) {
	plansFile := filepath.Join(t.TempDir(), "plans.json")
	err := os.WriteFile(plansFile, []byte(`[
 {"id":"free","name":"Free","price":"$0","stripe_price_id":"","rate_per_second":10,"burst":20,"monthly_quota":1000,"max_keys":3},
 {"id":"pro","name":"Pro","price":"$29/mo","stripe_price_id":"price_1PgafmB7WZ01zgkW6dKueIc5","rate_per_second":100,"burst":200,"monthly_quota":100000,"max_keys":10}]`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	env := testEnv(t, map[string]string{"STRIPE_SECRET_KEY": "sk_test_123", "STRIPE_API_BASE": testenv.StripeMock(t),
		"KEYHOLD_PLANS_FILE": plansFile, "KEYHOLD_REDIS_URL": testenv.PrivateRedis(t).URL()})
	srv := MustRun(t, env)
	c := srv.Client(t)
	c.MustSignup("ada@example.com")
	key := c.MustCreateKey("Production", "read")
	if ans := verifyKey(t, srv, key); ans.Quota.Limit != 1000 {
		t.Fatalf("before reconcile: quota %d", ans.Quota.Limit) // cached now
	}

	ctx := context.Background()
	db, err := store.Open(ctx, env["KEYHOLD_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := db.UserByEmail(ctx, "ada@example.com") // her personal account shares her id
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SetCustomerID(ctx, a.ID, "cus_QXg1o8vcGmoR32"); err != nil {
		t.Fatal(err)
	}
	if r := runCommand(t, env, "", "stripe", "reconcile"); r.Err != nil || !strings.Contains(r.Stdout, "1 applied") {
		t.Fatalf("reconcile: %v %q", r.Err, r.Stdout)
	}
	if ans := verifyKey(t, srv, key); ans.Quota.Limit != 100000 {
		t.Errorf("the running instance's next verification: quota %d, want Pro's 100000", ans.Quota.Limit)
	}
}
