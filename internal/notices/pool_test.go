package notices_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/notices"
	"github.com/keyhold/keyhold/internal/quota"
	"github.com/keyhold/keyhold/internal/store/storetest"
)

// thresholdEvent is a quota.threshold event's data as a receiver reads it.
type thresholdEvent struct {
	KeyID     *string `json:"key_id"`
	AccountID string  `json:"account_id"`
	Scope     string  `json:"scope"`
	Percent   int     `json:"percent"`
	Used      int64   `json:"used"`
	Limit     int64   `json:"limit"`
}

// thresholdEvents returns the data of the quota.threshold events written,
// oldest first.
func (f *fixture) thresholdEvents() []thresholdEvent {
	f.t.Helper()
	rows, err := f.db.SQL().Query(`SELECT data FROM events WHERE type = 'quota.threshold' ORDER BY created_at, id`)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []thresholdEvent
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			f.t.Fatal(err)
		}
		// key_id must be there, as null, for a shared quota: a receiver
		// reading it must not have to guess.
		if !strings.Contains(data, `"key_id":`) {
			f.t.Errorf("event data %s has no key_id", data)
		}
		var ev thresholdEvent
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return out
}

// TestRecordPoolThreshold: a shared quota's crossing (no key) is recorded
// once per threshold and window under the account, however many
// instances hear it; its quota.threshold event has key_id null and scope
// "account" (a key's has its id and scope "key"), and its mail to the
// owners and admins speaks of the shared quota and names no key.
func TestRecordPoolThreshold(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		testRecordPoolThreshold(t, newFixtureOn(t, storetest.Open(t, "sqlite://"+filepath.Join(t.TempDir(), "k.db"))))
	})
	t.Run("PostgreSQL", func(t *testing.T) { testRecordPoolThreshold(t, newFixtureOn(t, storetest.New(t, storetest.Postgres))) })
}

func testRecordPoolThreshold(t *testing.T, f *fixture) {
	ctx := context.Background()
	w := quota.WindowAt(f.now, quota.Window{})
	k := f.key("prod", nil)
	pool := notices.Crossing{AccountID: f.account, Percent: 80, Used: 80_000, Limit: 100_000, Window: w}
	var created int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			ok, err := f.svc.RecordThreshold(ctx, pool)
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
		t.Errorf("%d records of the pool's 80 %%, want 1", created)
	}
	var subject, acct string
	if err := f.db.SQL().QueryRow(f.q(`SELECT subject, account_id FROM quota_notices WHERE percent = ?`), 80).Scan(&subject, &acct); err != nil {
		t.Fatal(err)
	}
	if subject != f.account || acct != f.account {
		t.Errorf("recorded under subject %q, account %q; want the account %q for both", subject, acct, f.account)
	}
	// The key's own 80 % in the same window is another notice.
	if ok, err := f.svc.RecordThreshold(ctx, notices.Crossing{KeyID: k.ID, AccountID: f.account, Percent: 80, Used: 800, Limit: 1000, Window: w}); err != nil || !ok {
		t.Errorf("a key's 80 %% beside the pool's: %v, %v; want recorded", ok, err)
	}
	evs := f.thresholdEvents()
	if len(evs) != 2 {
		t.Fatalf("%d quota.threshold events, want the pool's and the key's", len(evs))
	}
	if e := evs[0]; e.KeyID != nil || e.Scope != notices.ScopeAccount || e.AccountID != f.account || e.Percent != 80 || e.Used != 80_000 || e.Limit != 100_000 {
		t.Errorf("pool's event %+v, want key_id null, scope account, 80000 of 100000", e)
	}
	if e := evs[1]; e.KeyID == nil || *e.KeyID != k.ID || e.Scope != notices.ScopeKey {
		t.Errorf("key's event %+v, want key_id %s, scope key", e, k.ID)
	}
	var poolMails []notices.Mail
	for _, m := range f.out.mails {
		if m.Pooled {
			poolMails = append(poolMails, m)
		}
	}
	if len(poolMails) != 2 {
		t.Fatalf("%d mails of the shared quota, want one each to the owner and the admin: %+v", len(poolMails), f.out.mails)
	}
	for _, m := range poolMails {
		if m.KeyID != "" || m.KeyName != "" || m.AccountName != "Acme" || m.Kind != notices.KindQuota || m.Percent != 80 || m.Used != 80_000 || !m.WindowEnd.Equal(w.End) {
			t.Errorf("pool mail %+v", m)
		}
		if m.To != "owner@example.com" && m.To != "admin@example.com" {
			t.Errorf("pool mail to %s, want owners and admins only", m.To)
		}
	}
	// 100 is another notice; the pool's 80 again is not.
	pool.Percent = 100
	if ok, err := f.svc.RecordThreshold(ctx, pool); err != nil || !ok {
		t.Errorf("pool's 100 %%: %v, %v; want recorded", ok, err)
	}
	pool.Percent = 80
	if ok, err := f.svc.RecordThreshold(ctx, pool); err != nil || ok {
		t.Errorf("pool's 80 %% again: %v, %v; want nothing new", ok, err)
	}
	// A crossing that names neither key nor account has no subject.
	if _, err := f.svc.RecordThreshold(ctx, notices.Crossing{Percent: 80, Used: 1, Limit: 1, Window: w}); err == nil {
		t.Error("a crossing of no account was recorded")
	}
	var n int
	if err := f.db.SQL().QueryRow(`SELECT COUNT(*) FROM quota_notices`).Scan(&n); err != nil || n != 3 {
		t.Errorf("%d quota notices (%v), want 3: the pool's 80 and 100, the key's 80", n, err)
	}
}

// TestPoolSinkRecords: the verifier's crossing of a shared quota (an empty
// key id) goes through the Sink to its record.
func TestPoolSinkRecords(t *testing.T) {
	f := newFixture(t)
	sink := notices.NewSink(f.svc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sink.Run(ctx); close(done) }()
	w := quota.WindowAt(f.now, quota.Window{})
	sink.QuotaCrossed("", f.account, 100, 100_000, 100_000, w)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := f.db.SQL().QueryRow(f.q(`SELECT COUNT(*) FROM quota_notices WHERE subject = ? AND percent = 100`), f.account).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pool's crossing was not recorded within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}

// TestPoolBanners: the shared quota is a notice of its own, under the
// account's id, with a forecast from its pace; keys without a quota of
// their own call for none; its dismissal is the user's, and another
// account's pool notice cannot be dismissed.
func TestPoolBanners(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	w := quota.WindowAt(f.now, quota.Window{})
	ks := []notices.Key{
		{ID: "k1", Name: "pooled", Used: 90_000, Live: true}, // no quota of its own
		{ID: "k2", Name: "own", Used: 95, Quota: 100, Live: true},
		notices.PoolKey(f.account, 85_000, 100_000),
	}
	ns, err := f.svc.Banners(ctx, f.owner, ks, w)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 2 {
		t.Fatalf("notices %+v, want the own-quota key's and the pool's", ns)
	}
	var pool notices.Notice
	for _, n := range ns {
		if n.Pool {
			pool = n
		} else if n.KeyID != "k2" {
			t.Errorf("notice of %s, want none for a key without a quota of its own", n.KeyID)
		}
	}
	if !pool.Pool || pool.KeyID != f.account || pool.Level != 80 || pool.Used != 85_000 || pool.Limit != 100_000 || !strings.HasPrefix(pool.ID, "q80."+f.account+".") {
		t.Fatalf("pool notice %+v", pool)
	}
	if !pool.RunsOut.After(f.now) || !pool.RunsOut.Before(w.End) {
		t.Errorf("85 %% on Dec 10: runs out %s, want within December", pool.RunsOut)
	}
	if err := f.svc.Dismiss(ctx, f.owner, pool.ID, ks, w); err != nil {
		t.Fatal(err)
	}
	if ns, _ := f.svc.Banners(ctx, f.owner, ks, w); len(ns) != 1 || ns[0].Pool {
		t.Errorf("after dismissing the pool's: %+v, want only the key's", ns)
	}
	if ns, _ := f.svc.Banners(ctx, f.admin, ks, w); len(ns) != 2 {
		t.Errorf("the admin sees %d notices, want both: a dismissal is per user", len(ns))
	}
	other := "q80." + keyhold.NewID() + pool.ID[len("q80.")+len(f.account):]
	if err := f.svc.Dismiss(ctx, f.owner, other, ks, w); keyhold.ErrorCode(err) != keyhold.ENOTFOUND {
		t.Errorf("dismiss another account's pool notice: %v, want ENOTFOUND", err)
	}
	full := []notices.Key{notices.PoolKey(f.account, 100_000, 100_000)}
	if ns, _ := f.svc.Banners(ctx, f.owner, full, w); len(ns) != 1 || ns[0].Level != 100 || !ns[0].Pool {
		t.Errorf("a used-up pool: %+v, want its 100 %% notice", ns)
	}
}
