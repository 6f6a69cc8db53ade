package overview_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/overview"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/quota"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/store/storetest"
	"github.com/keyhold/keyhold/internal/team"
	"github.com/keyhold/keyhold/internal/testenv"
	"github.com/keyhold/keyhold/internal/verify"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// live stands in for the verifier's counts: used per key and per
// account's pool, in window w.
type live struct {
	w    quota.Window
	used map[string]int64
	pool map[string]int64
}

func (l live) QuotaUsed(keyID string, now time.Time) (int64, quota.Window, bool) {
	u, ok := l.used[keyID]
	return u, l.w, ok
}

func (l live) PoolUsed(accountID string, now time.Time) (int64, quota.Window, bool) {
	u, ok := l.pool[accountID]
	return u, l.w, ok
}

// fixture is two accounts on a fresh database: ada on a live Pro
// subscription with an active key (quota override 500, 7 units used this
// period and 100 in the one before), a revoked key and an expired one;
// bob on Free with one key.
type fixture struct {
	db                     *store.DB
	svc                    *overview.Service
	ada, bob               string
	active, revoked, expir string
	bobKey                 string
	period                 quota.Window
	now                    time.Time
}

func newFixture(t *testing.T, kind string, l overview.LiveUsage) *fixture {
	t.Helper()
	cat, err := plans.New(plans.BuiltIn)
	if err != nil {
		t.Fatal(err)
	}
	return newFixtureOn(t, kind, l, cat)
}

// newFixtureOn is newFixture with the plan catalog cat.
func newFixtureOn(t *testing.T, kind string, l overview.LiveUsage, cat *plans.Catalog) *fixture {
	t.Helper()
	ctx := context.Background()
	db := storetest.New(t, kind)
	var err error
	now := time.Now().UTC().Truncate(time.Second)
	f := &fixture{db: db, now: now, period: quota.Window{Start: now.Add(-10 * 24 * time.Hour).Truncate(time.Hour), End: now.Add(20 * 24 * time.Hour).Truncate(time.Hour)}}
	if l == nil {
		l = live{}
	}
	if f.svc, err = overview.New(overview.Config{Store: db, Plans: cat, Live: l, Now: func() time.Time { return now }}); err != nil {
		t.Fatal(err)
	}
	account := func(email string) string { return mustAccount(t, db, email, now) }
	f.ada, f.bob = account("ada@example.com"), account("bob@example.com")
	if _, err := db.SetCustomerID(ctx, f.ada, "cus_ada"); err != nil {
		t.Fatal(err)
	}
	ps, pe := f.period.Start, f.period.End
	sub := &billing.Subscription{AccountID: f.ada, ID: "sub_ada", CustomerID: "cus_ada", PriceID: "price_keyhold_pro", Status: "active",
		PeriodStart: &ps, PeriodEnd: &pe, Created: now.Unix(), StateAt: now.Unix()}
	err = db.ApplyEvent(ctx, billing.EventRecord{ID: "evt_1", Type: "customer.subscription.created", Created: now.Unix(), AccountID: f.ada, ReceivedAt: now},
		func(tx billing.Tx, _ string) (string, string, error) {
			return billing.OutcomeApplied, "", tx.SaveSubscription(sub, "pro")
		})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	key := func(accountID, name string, expires *time.Time, override *int64) string {
		n++
		at := now.Add(time.Duration(n-10) * time.Minute) // distinct creation times, in order
		k := &keys.Key{ID: keyhold.NewID(), AccountID: accountID, Name: name, Display: "kh_live_…000" + string(rune('0'+n)),
			ExpiresAt: expires, CreatedAt: at, UpdatedAt: at, QuotaOverride: override, CreatedBy: accountID}
		if name == "revoked" {
			k.CreatedBy = "" // made by an operator's tool, as keys.Key says
		}
		hash := [32]byte{byte(n)}
		e := audit.Entry{ID: keyhold.NewID(), AccountID: accountID, ActorID: accountID, Action: audit.KeyCreated, TargetType: "key", TargetID: k.ID, CreatedAt: at}
		if err := db.CreateKey(ctx, k, hash, 100, e); err != nil {
			t.Fatal(err)
		}
		return k.ID
	}
	override := int64(500)
	f.active = key(f.ada, "active", nil, &override)
	f.revoked = key(f.ada, "revoked", nil, nil)
	past := now.Add(-time.Minute)
	f.expir = key(f.ada, "expired", &past, nil)
	f.bobKey = key(f.bob, "bob's", nil, nil)
	if err := db.RevokeKey(ctx, f.ada, f.revoked, now, audit.Entry{ID: keyhold.NewID(), AccountID: f.ada, Action: audit.KeyRevoked, TargetType: "key", TargetID: f.revoked, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	hour := now.Truncate(time.Hour)
	err = db.AddUsage(ctx, []verify.Usage{
		{KeyID: f.active, AccountID: f.ada, Hour: hour, WindowStart: f.period.Start, Valid: 7, Invalid: 2, Cost: 7, LastUsed: now},
		// The period before: in the 30 days, not in this period's totals or quota.
		{KeyID: f.active, AccountID: f.ada, Hour: f.period.Start.Add(-2 * time.Hour), WindowStart: f.period.Start.AddDate(0, -1, 0), Valid: 100, Cost: 100},
		{KeyID: f.bobKey, AccountID: f.bob, Hour: hour, WindowStart: quota.WindowAt(now, quota.Window{}).Start, Valid: 3, Cost: 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func forEachDB(t *testing.T, fn func(t *testing.T, kind string)) {
	for _, kind := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(kind, func(t *testing.T) { fn(t, kind) })
	}
}

func ids(ks []overview.Key) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.ID
	}
	return out
}

func TestKeyList(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind, nil)
		ctx := context.Background()
		cases := []struct {
			q    overview.KeyListQuery
			want []string
		}{
			{overview.KeyListQuery{}, []string{f.active}},
			{overview.KeyListQuery{Status: "nonsense", Sort: "nonsense"}, []string{f.active}},
			{overview.KeyListQuery{Status: keys.StatusRevoked}, []string{f.revoked}},
			{overview.KeyListQuery{Status: overview.StatusAll}, []string{f.expir, f.revoked, f.active}},
			{overview.KeyListQuery{Status: overview.StatusAll, Sort: overview.SortName}, []string{f.active, f.expir, f.revoked}},
			{overview.KeyListQuery{Status: overview.StatusAll, Sort: overview.SortLastUsed}, []string{f.active, f.expir, f.revoked}},
		}
		for _, tc := range cases {
			ks, err := f.svc.KeyList(ctx, f.ada, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(ks.Keys); !slices.Equal(got, tc.want) {
				t.Errorf("%+v: keys %v, want %v", tc.q, got, tc.want)
			}
			if ks.Query.Status == "nonsense" || ks.Query.Sort == "nonsense" {
				t.Errorf("%+v: applied as %+v, want the defaults", tc.q, ks.Query)
			}
		}
		ks, err := f.svc.KeyList(ctx, f.ada, overview.KeyListQuery{Status: overview.StatusAll})
		if err != nil {
			t.Fatal(err)
		}
		a := ks.Account
		if a.Keys != 3 || a.LiveKeys != 1 || a.PlanID != "pro" || ks.Plan.ID != "pro" || a.CustomerID != "cus_ada" || a.Name != "ada@example.com" {
			t.Errorf("account %+v on plan %s, want 3 keys, 1 live, on pro, customer cus_ada", a, ks.Plan.ID)
		}
		if s := a.Subscription; s == nil || s.ID != "sub_ada" || s.Status != "active" || !s.PeriodStart.Equal(f.period.Start) || !s.PeriodEnd.Equal(f.period.End) {
			t.Errorf("subscription %+v, want sub_ada active over %v", s, f.period)
		}
		if ks.Window != f.period {
			t.Errorf("window %v, want the billing period %v", ks.Window, f.period)
		}
		if ks.Pool != nil {
			t.Errorf("pool %+v on a plan with a quota per key, want none", ks.Pool)
		}
		byID := map[string]overview.Key{}
		for _, k := range ks.Keys {
			byID[k.ID] = k
		}
		if k := byID[f.active]; k.Used != 7 || k.Quota != 500 {
			t.Errorf("active key: used %d of %d, want 7 (this period only) of its override 500", k.Used, k.Quota)
		}
		if k := byID[f.revoked]; k.Used != 0 || k.Quota != 100_000 {
			t.Errorf("revoked key: used %d of %d, want 0 of the plan's 100000", k.Used, k.Quota)
		}
		// The list names who made each key: the user, by email; nobody for
		// a key an operator's tool made.
		if k := byID[f.active]; k.CreatedBy != f.ada || k.CreatedByEmail != "ada@example.com" {
			t.Errorf("active key made by %q (%q), want ada", k.CreatedBy, k.CreatedByEmail)
		}
		if k := byID[f.revoked]; k.CreatedBy != "" || k.CreatedByEmail != "" {
			t.Errorf("revoked key made by %q (%q), want nobody", k.CreatedBy, k.CreatedByEmail)
		}
	})
}

// TestLiveCounts: the verifier's count wins over the database's when it
// is of the window the page shows, and only then.
func TestLiveCounts(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		for _, tc := range []struct {
			name   string
			window func(f quota.Window) quota.Window
			want   int64
		}{
			{"same window", func(p quota.Window) quota.Window { return p }, 42},
			{"another window", func(p quota.Window) quota.Window { return quota.Window{Start: p.End, End: p.End.AddDate(0, 1, 0)} }, 7},
		} {
			l := &live{used: map[string]int64{}}
			f := newFixture(t, kind, l)
			l.w, l.used[f.active] = tc.window(f.period), 42
			o, err := f.svc.AccountOverview(ctx, f.ada)
			if err != nil {
				t.Fatal(err)
			}
			if got := o.Keys.Keys[len(o.Keys.Keys)-1]; got.ID != f.active || got.Used != tc.want {
				t.Errorf("%s: key %s used %d, want %s used %d", tc.name, got.ID, got.Used, f.active, tc.want)
			}
			d, err := f.svc.KeyDetail(ctx, f.ada, f.active)
			if err != nil {
				t.Fatal(err)
			}
			if d.Key.Used != tc.want || d.Key.CreatedByEmail != "ada@example.com" {
				t.Errorf("%s: key page used %d, made by %q; want %d, by ada@example.com", tc.name, d.Key.Used, d.Key.CreatedByEmail, tc.want)
			}
		}
	})
}

// TestOwnership: another account's key is not found, exactly as a key that
// does not exist; an unknown account is not found on every page.
func TestOwnership(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind, nil)
		ctx := context.Background()
		_, other := f.svc.KeyDetail(ctx, f.ada, f.bobKey)
		_, none := f.svc.KeyDetail(ctx, f.ada, keyhold.NewID())
		_, empty := f.svc.KeyDetail(ctx, "", f.bobKey)
		for name, err := range map[string]error{"another account's key": other, "no such key": none, "no account": empty} {
			if keyhold.ErrorCode(err) != keyhold.ENOTFOUND || keyhold.ErrorMessage(err) != "We could not find that key." {
				t.Errorf("%s: %v, want ENOTFOUND", name, err)
			}
		}
		if _, err := f.svc.AdminKey(ctx, keyhold.NewID()); keyhold.ErrorCode(err) != keyhold.ENOTFOUND {
			t.Errorf("admin, no such key: %v, want ENOTFOUND", err)
		}
		d, err := f.svc.AdminKey(ctx, f.bobKey)
		if err != nil || d.Account.ID != f.bob || d.Account.Name != "bob@example.com" || d.Key.Used != 3 || d.Plan.ID != "free" {
			t.Fatalf("admin key: %+v, %v; want bob's key on free, 3 used", d, err)
		}
		unknown := keyhold.NewID()
		calls := map[string]func() error{
			"KeyList":         func() error { _, err := f.svc.KeyList(ctx, unknown, overview.KeyListQuery{}); return err },
			"AccountOverview": func() error { _, err := f.svc.AccountOverview(ctx, unknown); return err },
			"AdminAccount":    func() error { _, err := f.svc.AdminAccount(ctx, unknown); return err },
			"Account":         func() error { _, err := f.svc.Account(ctx, unknown); return err },
		}
		for name, call := range calls {
			if err := call(); keyhold.ErrorCode(err) != keyhold.ENOTFOUND {
				t.Errorf("%s of an unknown account: %v, want ENOTFOUND", name, err)
			}
		}
	})
}

func TestUsage(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind, nil)
		ctx := context.Background()
		o, err := f.svc.AccountOverview(ctx, f.ada)
		if err != nil {
			t.Fatal(err)
		}
		if o.Usage == nil || o.Usage.Totals.Valid != 7 || o.Usage.Totals.Invalid != 2 || o.Usage.Window != f.period {
			t.Fatalf("usage %+v, want this period's 7 valid and 2 invalid", o.Usage)
		}
		var days int64
		for _, d := range o.Usage.Days {
			days += d.Valid
		}
		if len(o.Usage.Days) != overview.ChartDays || days != 107 || o.Usage.Days[overview.ChartDays-1].Valid != 7 {
			t.Errorf("%d days with %d valid (today %d), want %d days, 107 valid, 7 today", len(o.Usage.Days), days, o.Usage.Days[len(o.Usage.Days)-1].Valid, overview.ChartDays)
		}
		d, err := f.svc.KeyDetail(ctx, f.ada, f.active)
		if err != nil {
			t.Fatal(err)
		}
		if d.Usage.Totals.Valid != 7 || len(d.Usage.Hours) != overview.ChartHours || d.Usage.Hours[overview.ChartHours-1].Valid != 7 || len(d.Usage.Days) != overview.ChartDays {
			t.Errorf("key usage: totals %+v, %d hours (last %+v), %d days", d.Usage.Totals, len(d.Usage.Hours), d.Usage.Hours[len(d.Usage.Hours)-1], len(d.Usage.Days))
		}
		if len(d.Audit) != 1 || d.Audit[0].Action != audit.KeyCreated {
			t.Errorf("key audit %+v, want its creation", d.Audit)
		}
		a, err := f.svc.AdminAccount(ctx, f.ada)
		if err != nil {
			t.Fatal(err)
		}
		// Three keys created, one revoked, and the plan change of the
		// subscription.
		if a.Used != 7 || len(a.Keys.Keys) != 3 || len(a.Trail) != 5 {
			t.Errorf("admin account: used %d, %d keys, %d audit entries; want 7, 3, 5", a.Used, len(a.Keys.Keys), len(a.Trail))
		}
		// No keys, no usage read.
		fresh := mustAccount(t, f.db, "new@example.com", f.now)
		if o, err := f.svc.AccountOverview(ctx, fresh); err != nil || o.Usage != nil || len(o.Keys.Keys) != 0 || o.Window != quota.WindowAt(f.now, quota.Window{}) {
			t.Errorf("a new account: %+v, %v; want no keys, no usage, the calendar month", o, err)
		}
	})
}

// mustAccount creates a user and their personal account, named by their
// email as sign-up names it and sharing their id, and returns the id.
func mustAccount(t testing.TB, db *store.DB, email string, now time.Time) string {
	t.Helper()
	u := &auth.User{ID: keyhold.NewID(), Email: email, PasswordHash: "h", CreatedAt: now, UpdatedAt: now}
	if err := db.CreateUser(context.Background(), u, &team.Account{ID: u.ID, Name: email, CreatedAt: now, UpdatedAt: now}, nil); err != nil {
		t.Fatal(err)
	}
	return u.ID
}
