package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/verify"
)

// subscribe records a Stripe event that saves a subscription for the
// account on plan, as the billing service does.
func subscribe(t *testing.T, db *store.DB, eventID, accountID, customer, status, plan string, start time.Time) {
	t.Helper()
	ev := billing.EventRecord{ID: eventID, Type: "customer.subscription.updated", Created: time.Now().Unix(), ReceivedAt: time.Now()}
	err := db.ApplyEvent(context.Background(), ev, func(tx billing.Tx, _ string) (string, string, error) {
		if _, err := tx.AccountByCustomer(customer); errors.Is(err, billing.ErrNotFound) {
			if err := tx.LinkCustomer(accountID, customer); err != nil {
				return "", "", err
			}
		}
		end := start.AddDate(0, 1, 0)
		sub := &billing.Subscription{AccountID: accountID, ID: "sub_" + customer, CustomerID: customer, Status: status,
			PeriodStart: &start, PeriodEnd: &end}
		return billing.OutcomeApplied, "", tx.SaveSubscription(sub, plan)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAdminAccounts(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// 60 accounts, one second apart, newest last.
		base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
		var ids []string
		for i := range 60 {
			a := mustAccountAt(t, db, fmt.Sprintf("user%02d@example.com", i), base.Add(time.Duration(i)*time.Second))
			ids = append(ids, a.ID)
		}
		odd := mustAccount(t, db, "100%_sure@example.com")
		for i := range 3 {
			k, s := newKey(ids[59], time.Now().UTC().Add(time.Duration(i)*time.Second))
			if err := db.CreateKey(ctx, k, s.Hash(), 10, entry(ids[59], audit.KeyCreated, k.ID)); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				if err := db.RevokeKey(ctx, ids[59], k.ID, time.Now(), entry(ids[59], audit.KeyRevoked, k.ID)); err != nil {
					t.Fatal(err)
				}
			}
		}
		start := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Second)
		subscribe(t, db, "evt_1", ids[58], "cus_58", "active", "pro", start)

		first, err := db.Accounts(ctx, auth.AccountQuery{Limit: 50})
		if err != nil || len(first) != 50 {
			t.Fatalf("first page: %d %v", len(first), err)
		}
		if first[0].ID != odd.ID || first[1].ID != ids[59] {
			t.Errorf("not newest first: %s, %s", first[0].Name, first[1].Name)
		}
		if first[1].Keys != 3 || first[1].LiveKeys != 2 {
			t.Errorf("key counts %d/%d, want 3 with 2 live", first[1].Keys, first[1].LiveKeys)
		}
		if s := first[1]; s.Name != "user59@example.com" || s.OwnerEmail != "user59@example.com" || s.Members != 1 {
			t.Errorf("account's name, owner and members: %q %q %d", s.Name, s.OwnerEmail, s.Members)
		}
		if s := first[2]; s.SubscriptionStatus != "active" || s.CustomerID != "cus_58" || s.PlanID != "pro" ||
			s.PeriodStart == nil || !s.PeriodStart.Equal(start) {
			t.Errorf("subscribed account: %+v", s)
		}
		second, err := db.Accounts(ctx, auth.AccountQuery{Limit: 50, Offset: 50})
		if err != nil || len(second) != 11 || second[10].ID != ids[0] {
			t.Fatalf("second page: %d %v", len(second), err)
		}
		for _, tt := range []struct {
			name string
			q    auth.AccountQuery
			want int
		}{
			{"email", auth.AccountQuery{Email: "user1"}, 10},
			{"email is a substring, any case", auth.AccountQuery{Email: "R05@EX"}, 1},
			{"wildcards are literal", auth.AccountQuery{Email: "%_"}, 1},
			{"plan", auth.AccountQuery{PlanID: "pro"}, 1},
			{"status", auth.AccountQuery{Status: "active"}, 1},
			{"no subscription", auth.AccountQuery{Status: auth.StatusNone}, 60},
			{"plan and email", auth.AccountQuery{PlanID: "free", Email: "user58"}, 0},
		} {
			tt.q.Limit = 100
			got, err := db.Accounts(ctx, tt.q)
			if err != nil || len(got) != tt.want {
				t.Errorf("%s: %d accounts (%v), want %d", tt.name, len(got), err, tt.want)
			}
		}
		byPlan, err := db.AccountsByPlan(ctx)
		if err != nil || byPlan["free"] != 60 || byPlan["pro"] != 1 {
			t.Errorf("by plan: %v %v", byPlan, err)
		}

		// The plan change left an audit entry naming the event; saving the
		// same plan again leaves none.
		subscribe(t, db, "evt_2", ids[58], "cus_58", "active", "pro", start)
		log, err := db.AuditLog(ctx, auth.AuditQuery{Action: audit.PlanChanged, Limit: 10})
		if err != nil || len(log) != 1 {
			t.Fatalf("plan changes: %+v %v", log, err)
		}
		if e := log[0]; e.AccountID != ids[58] || e.ActorID != "" || !strings.Contains(e.Detail, "evt_1") ||
			!strings.Contains(e.Detail, "free → pro") || e.AccountName != "user58@example.com" {
			t.Errorf("plan change entry: %+v", e)
		}
	})
}

func TestAdminAuditLog(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := mustAccount(t, db, "ada@example.com")
		ops := mustAccount(t, db, "ops@example.com")
		day := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
		for i := range 5 {
			e := audit.Entry{ID: keyhold.NewID(), AccountID: a.ID, ActorID: ops.ID, Action: audit.KeyOverridden, TargetType: "key",
				TargetID: "k", IP: "192.0.2.9", Detail: fmt.Sprint(i), CreatedAt: day.Add(time.Duration(i) * 12 * time.Hour)}
			if err := db.AppendAudit(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.AppendAudit(ctx, audit.Entry{ID: keyhold.NewID(), Action: audit.LoginFailed, IP: "192.0.2.10", CreatedAt: day}); err != nil {
			t.Fatal(err)
		}
		// A user event is about the user, in no account.
		if err := db.AppendAudit(ctx, audit.Entry{ID: keyhold.NewID(), ActorID: a.ID, Action: audit.PasswordChanged, TargetType: audit.TargetUser,
			TargetID: a.ID, Detail: "password", CreatedAt: day}); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name string
			q    auth.AuditQuery
			want []string // details, newest first
		}{
			{"time range", auth.AuditQuery{From: day.Add(24 * time.Hour), To: day.Add(48 * time.Hour)}, []string{"3", "2"}},
			{"by the operator", auth.AuditQuery{UserID: ops.ID, Action: "key."}, []string{"4", "3", "2", "1", "0"}},
			// The operator's own account is not the account acted on.
			{"in the operator's account", auth.AuditQuery{AccountID: ops.ID}, nil},
			{"about a user", auth.AuditQuery{UserID: a.ID}, []string{"password"}},
			{"paged", auth.AuditQuery{AccountID: a.ID, Offset: 2, Limit: 2}, []string{"2", "1"}},
			{"failed log-ins", auth.AuditQuery{Action: audit.LoginFailed}, []string{""}},
		} {
			if tt.q.Limit == 0 {
				tt.q.Limit = 50
			}
			got, err := db.AuditLog(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var details []string
			for _, e := range got {
				details = append(details, e.Detail)
			}
			if strings.Join(details, ",") != strings.Join(tt.want, ",") {
				t.Errorf("%s: %q, want %q", tt.name, details, tt.want)
			}
		}
		got, _ := db.AuditLog(ctx, auth.AuditQuery{AccountID: a.ID, Limit: 1})
		if e := got[0]; e.ActorEmail != "ops@example.com" || e.AccountName != "ada@example.com" || e.IP != "192.0.2.9" || !e.CreatedAt.Equal(day.Add(48*time.Hour)) {
			t.Errorf("entry: %+v", e)
		}
	})
}

func TestAdminKeys(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := mustAccount(t, db, "ada@example.com")
		b := mustAccount(t, db, "bob@example.com")
		now := time.Now().UTC().Truncate(time.Microsecond)
		var all []*keys.Key
		for i := range 55 {
			owner := a
			if i%5 == 0 {
				owner = b
			}
			k, s := newKey(owner.ID, now.Add(time.Duration(i)*time.Millisecond))
			k.Name = fmt.Sprintf("Service %02d", i)
			if i == 7 {
				past := now.Add(time.Hour)
				k.ExpiresAt = &past
			}
			if err := db.CreateKey(ctx, k, s.Hash(), 100, entry(owner.ID, audit.KeyCreated, k.ID)); err != nil {
				t.Fatal(err)
			}
			all = append(all, k)
		}
		if err := db.RevokeKey(ctx, a.ID, all[1].ID, now, entry(a.ID, audit.KeyRevoked, all[1].ID)); err != nil {
			t.Fatal(err)
		}
		last4 := all[3].Display[len(all[3].Display)-4:]

		page1, err := db.FindKeys(ctx, keys.KeyFilter{Limit: 50, Now: now})
		if err != nil || len(page1) != 50 || page1[0].ID != all[54].ID {
			t.Fatalf("first page: %d %v", len(page1), err)
		}
		if page1[0].AccountName != "ada@example.com" || page1[4].AccountName != "bob@example.com" {
			t.Errorf("owners: %q %q", page1[0].AccountName, page1[4].AccountName)
		}
		page2, err := db.FindKeys(ctx, keys.KeyFilter{Limit: 50, Offset: 50, Now: now})
		if err != nil || len(page2) != 5 || page2[4].ID != all[0].ID {
			t.Fatalf("second page: %d %v", len(page2), err)
		}
		count := func(q keys.KeyFilter, at time.Time) int {
			t.Helper()
			q.Limit, q.Now = 100, at
			got, err := db.FindKeys(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			return len(got)
		}
		for _, tt := range []struct {
			name string
			q    keys.KeyFilter
			at   time.Time
			want int
		}{
			{"name, any case", keys.KeyFilter{Search: "service 1"}, now, 10},
			{"last four", keys.KeyFilter{Search: last4}, now, 1},
			{"account", keys.KeyFilter{AccountID: b.ID}, now, 11},
			{"revoked", keys.KeyFilter{Status: keys.StatusRevoked}, now, 1},
			{"active", keys.KeyFilter{Status: keys.StatusActive}, now, 54},
			{"expired later", keys.KeyFilter{Status: keys.StatusExpired}, now.Add(2 * time.Hour), 1},
			{"wildcard is literal", keys.KeyFilter{Search: "%"}, now, 0},
		} {
			if got := count(tt.q, tt.at); got != tt.want {
				t.Errorf("%s: %d keys, want %d", tt.name, got, tt.want)
			}
		}

		// Overrides, with their audit entry in the same transaction.
		k := all[10]
		got, err := findKey(ctx, db, keys.KeyFilter{ID: k.ID})
		if err != nil || got.ID != k.ID || got.AccountID != b.ID {
			t.Fatalf("lookup: %+v %v", got, err)
		}
		if _, err := findKey(ctx, db, keys.KeyFilter{ID: "nope"}); !errors.Is(err, keys.ErrNotFound) {
			t.Errorf("lookup of nothing: %v", err)
		}
		rate, quota := 5, int64(42)
		e := audit.Entry{ID: keyhold.NewID(), AccountID: b.ID, ActorID: a.ID, Action: audit.KeyOverridden, TargetType: "key", TargetID: k.ID, CreatedAt: time.Now()}
		if err := db.OverrideKey(ctx, k.ID, &rate, nil, &quota, e); err != nil {
			t.Fatal(err)
		}
		got, _ = findKey(ctx, db, keys.KeyFilter{ID: k.ID})
		if got.RateOverride == nil || *got.RateOverride != 5 || got.BurstOverride != nil || got.QuotaOverride == nil || *got.QuotaOverride != 42 {
			t.Errorf("overrides: %v %v %v", got.RateOverride, got.BurstOverride, got.QuotaOverride)
		}
		if es, _ := db.KeyAudit(ctx, b.ID, k.ID, 10); len(es) != 2 || es[0].Action != audit.KeyOverridden {
			t.Errorf("audit: %+v", es)
		}
		e.ID = keyhold.NewID()
		if err := db.OverrideKey(ctx, "nope", nil, nil, nil, e); !errors.Is(err, keys.ErrNotFound) {
			t.Errorf("override of nothing: %v", err)
		}
		if es, _ := db.AuditLog(ctx, auth.AuditQuery{Action: audit.KeyOverridden, Limit: 10}); len(es) != 1 {
			t.Errorf("a refused override left an entry: %+v", es)
		}
	})
}

func TestAdminUsage(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := mustAccount(t, db, "ada@example.com")
		b := mustAccount(t, db, "bob@example.com")
		now := time.Now().UTC()
		ka, sa := newKey(a.ID, now)
		kb, sb := newKey(b.ID, now)
		kc, sc := newKey(b.ID, now)
		for _, x := range []struct {
			k *keys.Key
			s keys.Secret
		}{{ka, sa}, {kb, sb}, {kc, sc}} {
			if err := db.CreateKey(ctx, x.k, x.s.Hash(), 10, entry(x.k.AccountID, audit.KeyCreated, x.k.ID)); err != nil {
				t.Fatal(err)
			}
		}
		hour := now.Truncate(time.Hour)
		month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		period := now.Add(-72 * time.Hour).Truncate(time.Second)
		err := db.AddUsage(ctx, []verify.Usage{
			{KeyID: ka.ID, AccountID: a.ID, Hour: hour, WindowStart: month, Valid: 10, Invalid: 2, Cost: 10},
			{KeyID: ka.ID, AccountID: a.ID, Hour: hour.Add(-24 * time.Hour), WindowStart: month, Valid: 5, Cost: 5},
			{KeyID: kb.ID, AccountID: b.ID, Hour: hour, WindowStart: period, Valid: 20, RateLimited: 4, Cost: 20},
			{KeyID: kc.ID, AccountID: b.ID, Hour: hour.Add(-40 * 24 * time.Hour), WindowStart: period, Valid: 1000, Cost: 7},
			{KeyID: kc.ID, AccountID: b.ID, Hour: hour, WindowStart: period, Valid: 1, Cost: 1},
		})
		if err != nil {
			t.Fatal(err)
		}
		since := now.Add(-30 * 24 * time.Hour)
		hours, err := db.UsageByHour(ctx, since)
		if err != nil || len(hours) != 2 {
			t.Fatalf("hours: %+v %v", hours, err)
		}
		if h := hours[1]; !h.Hour.Equal(hour) || h.Valid != 31 || h.RateLimited != 4 || h.Invalid != 2 || h.Cost != 31 {
			t.Errorf("this hour: %+v", h)
		}
		top, err := db.TopKeys(ctx, since, 2)
		if err != nil || len(top) != 2 {
			t.Fatalf("top: %+v %v", top, err)
		}
		if top[0].KeyID != kb.ID || top[0].Total() != 24 || top[0].AccountName != "bob@example.com" || top[0].Display != kb.Display {
			t.Errorf("top key: %+v", top[0])
		}
		if top[1].KeyID != ka.ID || top[1].Total() != 17 {
			t.Errorf("second key: %+v", top[1])
		}
		vols, err := db.KeyVolumes(ctx, []string{ka.ID, kc.ID}, since)
		if err != nil || vols[ka.ID].Valid != 15 || vols[kc.ID].Valid != 1 || len(vols) != 2 {
			t.Errorf("volumes: %+v %v", vols, err)
		}
		used, err := db.QuotaUsedByAccount(ctx, map[string]time.Time{a.ID: month, b.ID: period})
		if err != nil || used[a.ID] != 15 || used[b.ID] != 28 {
			t.Errorf("quota used: %v %v", used, err)
		}
		used, _ = db.QuotaUsedByAccount(ctx, map[string]time.Time{b.ID: month})
		if used[b.ID] != 0 {
			t.Errorf("another window's usage counted: %v", used)
		}
	})
}

func TestAdminStripeEventsAndPlans(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := mustAccount(t, db, "ada@example.com")
		base := time.Now().UTC().Add(-time.Hour)
		for i := range 55 {
			ev := billing.EventRecord{ID: fmt.Sprintf("evt_%02d", i), Type: "invoice.paid", Created: int64(i),
				Outcome: billing.OutcomeApplied, ReceivedAt: base.Add(time.Duration(i) * time.Second)}
			if i%10 == 0 {
				ev.Outcome, ev.Payload, ev.Detail, ev.Type = billing.OutcomeFailed, `{"id":"`+ev.ID+`"}`, "boom", "customer.subscription.updated"
				if err := db.RecordFailedEvent(ctx, ev); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := db.ApplyEvent(ctx, ev, func(billing.Tx, string) (string, string, error) { return billing.OutcomeApplied, "ok", nil }); err != nil {
				t.Fatal(err)
			}
		}
		evs, err := db.FindStripeEvents(ctx, billing.EventQuery{Limit: 50})
		if err != nil || len(evs) != 50 || evs[0].ID != "evt_54" {
			t.Fatalf("first page: %d %v", len(evs), err)
		}
		evs, _ = db.FindStripeEvents(ctx, billing.EventQuery{Limit: 50, Offset: 50})
		if len(evs) != 5 || evs[4].ID != "evt_00" {
			t.Errorf("second page: %+v", evs)
		}
		failed, _ := db.FindStripeEvents(ctx, billing.EventQuery{Outcome: billing.OutcomeFailed, Limit: 50})
		if len(failed) != 6 || failed[0].Detail != "boom" || failed[0].Payload == "" {
			t.Errorf("failed: %+v", failed)
		}
		if got, _ := db.FindStripeEvents(ctx, billing.EventQuery{Type: "invoice.paid", Limit: 100}); len(got) != 49 {
			t.Errorf("by type: %d", len(got))
		}
		ev, err := db.StripeEvent(ctx, "evt_10")
		if err != nil || ev.Outcome != billing.OutcomeFailed || ev.Type != "customer.subscription.updated" {
			t.Errorf("one event: %+v %v", ev, err)
		}
		if _, err := db.StripeEvent(ctx, "evt_nope"); !errors.Is(err, billing.ErrNotFound) {
			t.Errorf("no event: %v", err)
		}

		e := audit.Entry{ID: keyhold.NewID(), AccountID: a.ID, ActorID: a.ID, Action: audit.PlanAssigned, TargetType: "account", TargetID: a.ID, CreatedAt: time.Now()}
		if err := db.AssignPlan(ctx, a.ID, "business", e); err != nil {
			t.Fatal(err)
		}
		if p, _ := db.AccountPlan(ctx, a.ID); p != "business" {
			t.Errorf("plan %q", p)
		}
		e.ID = keyhold.NewID()
		if err := db.AssignPlan(ctx, "nope", "pro", e); !errors.Is(err, billing.ErrNotFound) {
			t.Errorf("no account: %v", err)
		}
		if log, _ := db.AuditLog(ctx, auth.AuditQuery{Action: audit.PlanAssigned, Limit: 10}); len(log) != 1 {
			t.Errorf("assign entries: %+v", log)
		}
	})
}
