package notices_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/notices"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/quota"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/store/storetest"
	"github.com/keyhold/keyhold/internal/team"
	"github.com/keyhold/keyhold/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// outbox records the notice mails queued, as internal/mail would queue
// them; the other mails are not these tests'.
type outbox struct {
	mu    sync.Mutex
	mails []notices.Mail
}

func (o *outbox) QueueTx(context.Context, *sql.Tx, auth.Mail) error { return nil }
func (o *outbox) QueueInvitationTx(context.Context, *sql.Tx, team.InvitationMail) error {
	return nil
}
func (o *outbox) QueueNoticeTx(_ context.Context, _ *sql.Tx, m notices.Mail) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mails = append(o.mails, m)
	return nil
}

func (o *outbox) to() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string]int{}
	for _, m := range o.mails {
		out[m.To]++
	}
	return out
}

// fixture is an account with an owner, an admin and a developer, on
// SQLite, and a notices service whose clock the test sets.
type fixture struct {
	t        *testing.T
	db       *store.DB
	out      *outbox
	keys     *keys.Service
	svc      *notices.Service
	now      time.Time
	account  string
	owner    string // user ids
	admin    string
	emailsOf map[string]string
}

func newFixture(t *testing.T) *fixture {
	return newFixtureOn(t, storetest.Open(t, "sqlite://"+filepath.Join(t.TempDir(), "k.db")))
}

// q is query with its ? placeholders as the fixture's database wants them.
func (f *fixture) q(query string) string { return storetest.Rebind(f.db, query) }

// newFixtureOn is newFixture on db.
func newFixtureOn(t *testing.T, db *store.DB) *fixture {
	ctx := context.Background()
	f := &fixture{t: t, db: db, out: &outbox{},
		now: time.Date(2026, 12, 10, 12, 0, 0, 0, time.UTC), emailsOf: map[string]string{}}
	f.db.SetOutbox(f.out)
	mk := func(email string) string {
		u := &auth.User{ID: keyhold.NewID(), Email: email, PasswordHash: "x", CreatedAt: f.now, UpdatedAt: f.now}
		var acct *team.Account
		if f.account == "" {
			acct = &team.Account{ID: u.ID, Name: "Acme", CreatedAt: f.now, UpdatedAt: f.now}
		}
		if err := f.db.CreateUser(ctx, u, acct, nil); err != nil {
			t.Fatal(err)
		}
		f.emailsOf[u.ID] = email
		return u.ID
	}
	f.owner = mk("owner@example.com")
	f.account = f.owner
	f.admin = mk("admin@example.com")
	dev := mk("dev@example.com")
	for id, role := range map[string]team.Role{f.admin: team.Admin, dev: team.Developer} {
		if _, err := f.db.SQL().Exec(f.q(`INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?, ?, ?, ?)`), f.account, id, string(role), f.now); err != nil {
			t.Fatal(err)
		}
	}
	catalog, err := plans.New([]plans.Plan{{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 10, Burst: 20, MonthlyQuota: 1000, MaxKeys: 50}})
	if err != nil {
		t.Fatal(err)
	}
	if f.keys, err = keys.NewService(keys.Config{Store: f.db, Plans: catalog, Now: func() time.Time { return f.now }}); err != nil {
		t.Fatal(err)
	}
	if f.svc, err = notices.New(notices.Config{Store: f.db, EmailOn: true, Now: func() time.Time { return f.now }}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) key(name string, expires *time.Time) *keys.Key {
	f.t.Helper()
	k, _, err := f.keys.Create(context.Background(), audit.Actor{UserID: f.owner, AccountID: f.account, Role: string(team.Owner)}, f.account,
		keys.Settings{Name: name, ExpiresAt: expires})
	if err != nil {
		f.t.Fatal(err)
	}
	return k
}

func TestRecordThresholdOnceWithMailToOwnersAndAdmins(t *testing.T) {
	f := newFixture(t)
	k := f.key("prod", nil)
	w := quota.WindowAt(f.now, quota.Window{})
	c := notices.Crossing{KeyID: k.ID, AccountID: f.account, Percent: 80, Used: 800, Limit: 1000, Window: w}
	created := 0
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range 16 { // many instances hearing the same crossing
		wg.Go(func() {
			ok, err := f.svc.RecordThreshold(context.Background(), c)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				created++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if created != 1 {
		t.Errorf("%d records created, want 1", created)
	}
	// One quota.threshold event, written with the record.
	var n int
	var data string
	if err := f.db.SQL().QueryRow(`SELECT COUNT(*), MAX(data) FROM events WHERE type = 'quota.threshold'`).Scan(&n, &data); err != nil {
		t.Fatal(err)
	}
	var ev struct {
		KeyID     string    `json:"key_id"`
		AccountID string    `json:"account_id"`
		Percent   int       `json:"percent"`
		Used      int64     `json:"used"`
		Limit     int64     `json:"limit"`
		End       time.Time `json:"window_end"`
	}
	if err := json.Unmarshal([]byte(data), &ev); n != 1 || err != nil || ev.KeyID != k.ID || ev.AccountID != f.account || ev.Percent != 80 ||
		ev.Used != 800 || ev.Limit != 1000 || !ev.End.Equal(w.End) {
		t.Errorf("%d quota.threshold events, data %s (%v), want one for the crossing", n, data, err)
	}
	got := f.out.to()
	if len(got) != 2 || got["owner@example.com"] != 1 || got["admin@example.com"] != 1 {
		t.Errorf("mails %v, want one each to the owner and the admin, none to the developer", got)
	}
	m := f.out.mails[0]
	if m.Kind != notices.KindQuota || m.KeyName != "prod" || m.AccountName != "Acme" || m.Percent != 80 || !m.WindowEnd.Equal(w.End) {
		t.Errorf("mail %+v", m)
	}
	// 100 is another notice; the next window is another too.
	c.Percent = 100
	if ok, err := f.svc.RecordThreshold(context.Background(), c); err != nil || !ok {
		t.Errorf("100 %%: %v %v, want recorded", ok, err)
	}
	c.Window = quota.WindowAt(w.End, quota.Window{})
	if ok, err := f.svc.RecordThreshold(context.Background(), c); err != nil || !ok {
		t.Errorf("the next window: %v %v, want recorded", ok, err)
	}
	if _, err := f.svc.RecordThreshold(context.Background(), notices.Crossing{KeyID: k.ID, AccountID: f.account, Percent: 90, Window: w}); err == nil {
		t.Error("a 90 % threshold was accepted")
	}
}

func TestExpiryNoticesOnceAndPreferences(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) { testExpiryNotices(t, newFixture(t)) })
	t.Run("PostgreSQL", func(t *testing.T) { testExpiryNotices(t, newFixtureOn(t, storetest.New(t, storetest.Postgres))) })
}

func testExpiryNotices(t *testing.T, f *fixture) {
	ctx := context.Background()
	in3 := f.now.Add(3 * 24 * time.Hour)
	in12h := f.now.Add(12 * time.Hour)
	in30 := f.now.Add(30 * 24 * time.Hour)
	week := f.key("week", &in3)
	f.key("day", &in12h)
	f.key("later", &in30)
	revoked := f.key("revoked", &in3)
	if err := f.keys.Revoke(ctx, audit.Actor{UserID: f.owner, AccountID: f.account, Role: string(team.Owner)}, f.account, revoked.ID); err != nil {
		t.Fatal(err)
	}
	// The admin wants no expiry mail.
	if err := f.svc.SetPrefs(ctx, f.admin, notices.Prefs{QuotaMail: true, ExpiryMail: false}); err != nil {
		t.Fatal(err)
	}
	if p, err := f.svc.Prefs(ctx, f.admin); err != nil || p.ExpiryMail || !p.QuotaMail {
		t.Fatalf("admin's preferences read back %+v, %v", p, err)
	}
	if p, _ := f.svc.Prefs(ctx, f.owner); p != notices.DefaultPrefs {
		t.Errorf("owner's preferences %+v, want the default", p)
	}
	n, err := f.svc.CheckExpiries(ctx)
	if err != nil || n != 2 {
		t.Fatalf("first check: %d new, %v; want 2 (week: 7 days, day: 1 day)", n, err)
	}
	days := map[string]int{}
	for _, m := range f.out.mails {
		if m.To != "owner@example.com" || m.Kind != notices.KindExpiry {
			t.Errorf("mail %+v, want expiry mail to the owner only", m)
		}
		days[m.KeyName] = m.Days
	}
	if len(f.out.mails) != 2 || days["week"] != 7 || days["day"] != 1 {
		t.Errorf("expiry mails by key: %v (%d mails), want week 7 and day 1", days, len(f.out.mails))
	}
	// The hourly job again: nothing new.
	f.now = f.now.Add(time.Hour)
	if n, err := f.svc.CheckExpiries(ctx); err != nil || n != 0 {
		t.Errorf("second check: %d new, %v; want 0", n, err)
	}
	// One key.expiring event per notice, mail or not.
	var events int
	if err := f.db.SQL().QueryRow(f.q(`SELECT COUNT(*) FROM events WHERE type = 'key.expiring' AND data LIKE ?`), `%"days":7%`).Scan(&events); err != nil || events != 1 {
		t.Errorf("%d key.expiring events with days 7 (%v), want 1", events, err)
	}
	// Two days on, "week" is within a day of its expiry: its 1-day notice.
	f.now = in3.Add(-20 * time.Hour)
	if n, err := f.svc.CheckExpiries(ctx); err != nil || n != 1 {
		t.Errorf("a day before week's expiry: %d new, %v; want 1", n, err)
	}
	if last := f.out.mails[len(f.out.mails)-1]; last.KeyID != week.ID || last.Days != 1 {
		t.Errorf("last mail %+v, want week's 1-day notice", last)
	}
	// With every owner's and admin's expiry mail off, it is recorded but
	// not mailed.
	if err := f.svc.SetPrefs(ctx, f.owner, notices.Prefs{QuotaMail: true}); err != nil {
		t.Fatal(err)
	}
	in5 := f.now.Add(5 * 24 * time.Hour)
	f.key("quiet", &in5)
	before := len(f.out.mails)
	if n, err := f.svc.CheckExpiries(ctx); err != nil || n != 1 {
		t.Errorf("quiet: %d new, %v; want 1", n, err)
	}
	if len(f.out.mails) != before {
		t.Errorf("%d mails with expiry mail off everywhere, want none", len(f.out.mails)-before)
	}
}

func TestBannersAndDismissals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	w := quota.WindowAt(f.now, quota.Window{})
	in3 := f.now.Add(3 * 24 * time.Hour)
	ks := []notices.Key{
		{ID: "k1", Name: "hot", Used: 850, Quota: 1000, Live: true},
		{ID: "k2", Name: "full", Used: 1000, Quota: 1000, Live: true},
		{ID: "k3", Name: "cool", Used: 10, Quota: 1000, Live: true},
		{ID: "k4", Name: "dead", Used: 1000, Quota: 1000, Live: false},
		{ID: "k5", Name: "soon", Quota: 1000, ExpiresAt: &in3, Live: true},
	}
	ns, err := f.svc.Banners(ctx, f.owner, ks, w)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range ns {
		ids = append(ids, n.ID)
	}
	want := []string{"q100.k2.", "q80.k1.", "e7.k5."}
	if len(ns) != 3 {
		t.Fatalf("notices %v, want %v…", ids, want)
	}
	for i, p := range want {
		if len(ids[i]) < len(p) || ids[i][:len(p)] != p {
			t.Errorf("notice %d is %s, want %s…", i, ids[i], p)
		}
	}
	if !ns[1].RunsOut.After(f.now) || !ns[1].RunsOut.Before(w.End) {
		t.Errorf("850 of 1000 on Dec 10: runs out %s, want within December", ns[1].RunsOut)
	}
	if err := f.svc.Dismiss(ctx, f.owner, ns[1].ID, ks, w); err != nil {
		t.Fatal(err)
	}
	ns2, _ := f.svc.Banners(ctx, f.owner, ks, w)
	if len(ns2) != 2 {
		t.Errorf("after dismissing one: %d notices, want 2", len(ns2))
	}
	if ns3, _ := f.svc.Banners(ctx, f.admin, ks, w); len(ns3) != 3 {
		t.Errorf("another user sees %d notices, want all 3: a dismissal is per user", len(ns3))
	}
	for _, bad := range []string{"q80.k3." + ids[0][len("q100.k2."):], "q80.other.1", "x", "q80..1", ids[1] + "x"} {
		if err := f.svc.Dismiss(ctx, f.owner, bad, ks, w); keyhold.ErrorCode(err) != keyhold.ENOTFOUND {
			t.Errorf("dismiss %q: %v, want ENOTFOUND", bad, err)
		}
	}
}

// TestBannerTooEarlyToForecast: a key at 85 % ten minutes into its window
// is not told that it "will not run out": the pace of ten minutes says
// nothing. Nine days in, the same use has a pace and a forecast.
func TestBannerTooEarlyToForecast(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ks := []notices.Key{{ID: "k1", Name: "prod", Used: 850, Quota: 1000, Live: true}}
	young := quota.Window{Start: f.now.Add(-10 * time.Minute), End: f.now.Add(30 * 24 * time.Hour)}
	ns, err := f.svc.Banners(ctx, f.owner, ks, young)
	if err != nil || len(ns) != 1 || !ns[0].TooEarly || !ns[0].RunsOut.IsZero() {
		t.Fatalf("ten minutes in: %+v, %v; want one notice, too early to forecast", ns, err)
	}
	old := quota.Window{Start: f.now.Add(-9 * 24 * time.Hour), End: f.now.Add(21 * 24 * time.Hour)}
	ns, err = f.svc.Banners(ctx, f.owner, ks, old)
	if err != nil || len(ns) != 1 || ns[0].TooEarly || ns[0].RunsOut.IsZero() {
		t.Fatalf("nine days in: %+v, %v; want a forecast", ns, err)
	}
}

// TestSinkCountsWhatItDrops: a full queue drops crossings without
// blocking, and says how many (for /metrics).
func TestSinkCountsWhatItDrops(t *testing.T) {
	f := newFixture(t)
	sink := notices.NewSink(f.svc) // not running: nothing drains it
	w := quota.WindowAt(f.now, quota.Window{})
	for range notices.SinkSize + 5 {
		sink.QuotaCrossed("k1", f.account, 80, 800, 1000, w)
	}
	if d, failed := f.svc.CrossingsLost(); d != 5 || failed != 0 || sink.Dropped() != 5 {
		t.Errorf("lost %d dropped, %d failed; want 5 and 0", d, failed)
	}
}

// TestPruneKeepsWhatCanStillMatter: notice rows go a month after their
// window ended or their key expired, dismissals after a year and a month;
// the rest stays, and a threshold of a current window still fires once.
func TestPruneKeepsWhatCanStillMatter(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) { testPrune(t, newFixture(t)) })
	t.Run("PostgreSQL", func(t *testing.T) { testPrune(t, newFixtureOn(t, storetest.New(t, storetest.Postgres))) })
}

func testPrune(t *testing.T, f *fixture) {
	ctx := context.Background()
	k := f.key("prod", nil)
	start := f.now
	record := func(at time.Time) quota.Window {
		t.Helper()
		w := quota.WindowAt(at, quota.Window{})
		if ok, err := f.svc.RecordThreshold(ctx, notices.Crossing{KeyID: k.ID, AccountID: f.account, Percent: 80, Used: 800, Limit: 1000, Window: w}); err != nil || !ok {
			t.Fatalf("recording the window of %s: %v %v", at, ok, err)
		}
		return w
	}
	old := record(start)                      // December 2026
	recent := record(start.AddDate(0, 2, 0))  // February 2027
	current := record(start.AddDate(0, 3, 0)) // March 2027
	expiresOld, expiresRecent := start.Add(2*24*time.Hour), start.AddDate(0, 2, 20)
	for _, at := range []time.Time{expiresOld, expiresRecent} {
		f.now = at.Add(-12 * time.Hour)
		exp := at
		f.key("expiring "+at.Format(time.DateOnly), &exp)
		if n, err := f.svc.CheckExpiries(ctx); err != nil || n != 1 {
			t.Fatalf("expiry notice of %s: %d, %v", at, n, err)
		}
	}
	for _, d := range []struct {
		id string
		at time.Time
	}{{"q80.a.1", start.AddDate(-1, -1, -2)}, {"q80.b.2", start.AddDate(0, -6, 0)}} {
		if err := f.db.Dismiss(ctx, f.owner, d.id, d.at); err != nil {
			t.Fatal(err)
		}
	}
	// Now: mid-March 2027. December's window ended over a month ago,
	// February's did not; the early expiry is over a month past.
	f.now = current.Start.Add(14 * 24 * time.Hour)
	n, err := f.svc.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	count := func(q string, args ...any) int {
		t.Helper()
		var c int
		if err := f.db.SQL().QueryRow(f.q(q), args...).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := count(`SELECT COUNT(*) FROM quota_notices WHERE window_start = ?`, old.Start); c != 0 {
		t.Errorf("December's quota notice is still there")
	}
	if c := count(`SELECT COUNT(*) FROM quota_notices WHERE window_start IN (?, ?)`, recent.Start, current.Start); c != 2 {
		t.Errorf("%d of February's and March's quota notices are left, want 2", c)
	}
	if c := count(`SELECT COUNT(*) FROM expiry_notices WHERE expires_at = ?`, expiresOld.UTC()); c != 0 {
		t.Errorf("the expiry notice of %s is still there", expiresOld)
	}
	if c := count(`SELECT COUNT(*) FROM expiry_notices WHERE expires_at = ?`, expiresRecent.UTC()); c != 1 {
		t.Errorf("the expiry notice of %s went (%d left)", expiresRecent, c)
	}
	if c := count(`SELECT COUNT(*) FROM notice_dismissals WHERE notice_id = 'q80.a.1'`); c != 0 {
		t.Error("the dismissal of over a year and a month ago is still there")
	}
	if c := count(`SELECT COUNT(*) FROM notice_dismissals WHERE notice_id = 'q80.b.2'`); c != 1 {
		t.Error("the dismissal of nine months ago went")
	}
	if n != 3 {
		t.Errorf("Prune reports %d rows, want 3", n)
	}
	// What is kept still stops a second notice in the current window.
	if ok, err := f.svc.RecordThreshold(ctx, notices.Crossing{KeyID: k.ID, AccountID: f.account, Percent: 80, Used: 900, Limit: 1000, Window: current}); err != nil || ok {
		t.Errorf("the current window's 80 %% again after a prune: %v %v, want not recorded", ok, err)
	}
	if n, err := f.svc.Prune(ctx); err != nil || n != 0 {
		t.Errorf("a second prune: %d, %v; want 0", n, err)
	}
}
