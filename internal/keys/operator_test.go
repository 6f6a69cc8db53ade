package keys_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
)

func TestSetOverrides(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	owner := f.MustAccount(t, "ada@example.com")
	ops := f.MustAccount(t, "ops@example.com")
	k, _ := f.MustKey(t, owner, "prod")
	var events []keys.Event
	f.svc.Subscribe(func(e keys.Event) { events = append(events, e) })
	actor := audit.Actor{UserID: ops, AccountID: ops, Role: ownerRole, IP: "192.0.2.7"}

	// Refusals change nothing. The free plan: 10/s, burst 20. An empty
	// field is the plan's value.
	for _, tt := range []struct {
		name string
		form keys.OverrideForm
	}{
		{"zero rate", keys.OverrideForm{Rate: "0"}},
		{"burst below the plan's rate", keys.OverrideForm{Burst: "5"}},
		{"burst below the new rate", keys.OverrideForm{Rate: "50", Burst: "40"}},
		{"zero quota", keys.OverrideForm{Quota: "0"}},
		{"huge quota", keys.OverrideForm{Quota: strconv.FormatInt(keys.MaxQuotaOverride+1, 10)}},
	} {
		if err := f.svc.SetOverridesFrom(ctx, actor, k.ID, tt.form); keyhold.ErrorCode(err) != keyhold.EINVALID {
			t.Errorf("%s: %v, want EINVALID", tt.name, err)
		}
	}
	if err := f.svc.SetOverridesFrom(ctx, actor, "nope", keys.OverrideForm{Quota: "5"}); keyhold.ErrorCode(err) != keyhold.ENOTFOUND {
		t.Errorf("unknown key: %v", err)
	}
	if len(events) != 0 {
		t.Fatalf("refusals published %v", events)
	}

	if err := f.svc.SetOverridesFrom(ctx, actor, k.ID, keys.OverrideForm{Rate: "50", Quota: "5000"}); err != nil {
		t.Fatal(err)
	}
	got, err := f.lookup(ctx, k.ID)
	if err != nil || *got.RateOverride != 50 || got.BurstOverride != nil || *got.QuotaOverride != 5000 {
		t.Fatalf("stored: %+v %v", got, err)
	}
	if len(events) != 1 || events[0].Kind != keys.KeyChanged || events[0].KeyID != k.ID || events[0].AccountID != owner {
		t.Errorf("events: %+v", events)
	}
	// The same again: nothing to do, nothing to log.
	if err := f.svc.SetOverridesFrom(ctx, actor, k.ID, keys.OverrideForm{Rate: "50", Quota: "5000"}); err != nil || len(events) != 1 {
		t.Errorf("no-op: %v, %d events", err, len(events))
	}
	// Back to the plan's quota.
	if err := f.svc.SetOverridesFrom(ctx, actor, k.ID, keys.OverrideForm{Rate: "50"}); err != nil {
		t.Fatal(err)
	}
	trail, _ := f.keyAudit(ctx, owner, k.ID)
	if len(trail) != 3 || trail[0].Action != audit.KeyOverridden || trail[1].Action != audit.KeyOverridden {
		t.Fatalf("trail: %+v", trail)
	}
	if e := trail[1]; e.ActorID != ops || e.AccountID != owner || e.IP != "192.0.2.7" ||
		!strings.Contains(e.Detail, "rate plan → 50") || !strings.Contains(e.Detail, "quota plan → 5000") || strings.Contains(e.Detail, "burst") {
		t.Errorf("entry: %+v", e)
	}
	if d := trail[0].Detail; !strings.Contains(d, "quota 5000 → plan") || !strings.Contains(d, k.Display) {
		t.Errorf("detail %q", d)
	}
}

func TestSearchAndTotals(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	ada := f.MustAccount(t, "ada@example.com")
	bob := f.MustAccount(t, "bob@example.com")
	k1, _ := f.MustKey(t, ada, "Billing worker")
	f.MustKey(t, bob, "billing cron")
	f.MustKey(t, bob, "search")
	got, err := f.svc.Search(ctx, keys.KeyFilter{Search: " BILLING "})
	if err != nil || len(got) != 2 {
		t.Fatalf("search: %d %v", len(got), err)
	}
	got, _ = f.svc.Search(ctx, keys.KeyFilter{Search: k1.Display[len(k1.Display)-4:]})
	if len(got) != 1 || got[0].ID != k1.ID || got[0].AccountName != "ada@example.com" {
		t.Errorf("by last four: %+v", got)
	}
	days, err := f.svc.DailyTotals(ctx, 30)
	if err != nil || len(days) != 30 || !days[29].Day.Equal(f.now.Truncate(24*time.Hour)) {
		t.Errorf("days: %d %v", len(days), err)
	}
}

// TestRevokeAny: an operator revokes a key of an account they are no
// member of, acting in their own account or (on the command line) in none;
// the entry names them as actor and the key's account as its account. An
// unknown key is not found and a revoked one refused.
func TestRevokeAny(t *testing.T) {
	for _, tt := range []struct {
		name  string
		actor func(ops string) audit.Actor
	}{
		{"console", func(ops string) audit.Actor {
			return audit.Actor{UserID: ops, AccountID: ops, Role: ownerRole, IP: "192.0.2.7"}
		}},
		{"command line", func(string) audit.Actor { return audit.Actor{} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := MustService(t)
			ctx := context.Background()
			owner := f.MustAccount(t, "ada@example.com")
			ops := f.MustAccount(t, "ops@example.com")
			k, _ := f.MustKey(t, owner, "prod")
			actor := tt.actor(ops)
			got, err := f.svc.RevokeAny(ctx, actor, k.ID)
			if err != nil || got.ID != k.ID || got.AccountID != owner {
				t.Fatalf("revoke any: %+v, %v", got, err)
			}
			if now, err := f.svc.Get(ctx, owner, k.ID); err != nil || now.RevokedAt == nil {
				t.Errorf("after revoke any: %+v, %v; want revoked", now, err)
			}
			trail, err := f.keyAudit(ctx, owner, k.ID)
			if err != nil || len(trail) != 2 || trail[0].Action != audit.KeyRevoked || trail[0].ActorID != actor.UserID || trail[0].AccountID != owner {
				t.Errorf("audit: %+v, %v; want key.revoked by %q in ada's account", trail, err, actor.UserID)
			}
			if _, err := f.svc.RevokeAny(ctx, actor, k.ID); keyhold.ErrorCode(err) != keyhold.EINVALID {
				t.Errorf("revoke a revoked key: %v, want EINVALID", err)
			}
			if _, err := f.svc.RevokeAny(ctx, actor, keyhold.NewID()); keyhold.ErrorCode(err) != keyhold.ENOTFOUND {
				t.Errorf("revoke an unknown key: %v, want ENOTFOUND", err)
			}
		})
	}
}
