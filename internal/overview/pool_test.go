package overview_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/overview"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/quota"
	"github.com/keyhold/keyhold/internal/store/storetest"
	"github.com/keyhold/keyhold/internal/verify"
)

// pooledCatalog is the built-in catalog with Pro's quota one pool per
// account.
func pooledCatalog(t *testing.T) *plans.Catalog {
	t.Helper()
	list := append([]plans.Plan(nil), plans.BuiltIn...)
	for i := range list {
		if list[i].ID == "pro" {
			list[i].QuotaScope = plans.ScopeAccount
		}
	}
	cat, err := plans.New(list)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// TestPool: on a pooled plan the pages carry the account's shared quota,
// the plan's monthly quota used by every key without an override; a key
// with an override keeps its own quota and count; a pooled key shows its
// own use (the database's count) and no limit of its own. The live pool
// count wins when it is of the same window and higher.
func TestPool(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		for _, tc := range []struct {
			name              string
			window            func(p quota.Window) quota.Window
			livePool, liveKey int64
			want, wantKey     int64
		}{
			{"no live count", nil, 0, 0, 25, 20},
			{"live higher, same window", func(p quota.Window) quota.Window { return p }, 40, 30, 40, 30},
			{"live lower, same window", func(p quota.Window) quota.Window { return p }, 10, 5, 25, 20},
			{"live of another window", func(p quota.Window) quota.Window { return quota.Window{Start: p.End, End: p.End.AddDate(0, 1, 0)} }, 99, 99, 25, 20},
		} {
			l := &live{used: map[string]int64{}, pool: map[string]int64{}}
			f := newFixtureOn(t, kind, l, pooledCatalog(t))
			if tc.window != nil {
				l.w, l.pool[f.ada] = tc.window(f.period), tc.livePool
			}
			// A pooled key's live count is its own use (this instance's
			// part of it, with Redis): the page takes the higher of it
			// and the database's.
			l.used[f.revoked] = tc.liveKey
			hour := f.now.Truncate(time.Hour)
			if err := f.db.AddUsage(ctx, []verify.Usage{
				{KeyID: f.revoked, AccountID: f.ada, Hour: hour, WindowStart: f.period.Start, Valid: 20, Cost: 20},
				{KeyID: f.expir, AccountID: f.ada, Hour: hour, WindowStart: f.period.Start, Valid: 5, Cost: 5},
			}); err != nil {
				t.Fatal(err)
			}
			check := func(where string, pool *overview.Pool) {
				t.Helper()
				if pool == nil || pool.Limit != 100_000 || pool.Used != tc.want || pool.Window != f.period {
					t.Errorf("%s, %s: pool %+v, want %d of 100000 in %v", tc.name, where, pool, tc.want, f.period)
				}
			}
			o, err := f.svc.AccountOverview(ctx, f.ada)
			if err != nil {
				t.Fatal(err)
			}
			check("dashboard", o.Pool)
			for _, k := range o.Keys.Keys {
				switch k.ID {
				case f.active:
					if k.Pooled || k.Quota != 500 || k.Used != 7 {
						t.Errorf("%s: the key with an override: pooled %v, %d of %d; want its own 7 of 500", tc.name, k.Pooled, k.Used, k.Quota)
					}
				case f.revoked:
					if !k.Pooled || k.Quota != 0 || k.Used != tc.wantKey {
						t.Errorf("%s: a pooled key: pooled %v, %d of %d; want its own %d, no quota of its own", tc.name, k.Pooled, k.Used, k.Quota, tc.wantKey)
					}
				}
			}
			ks, err := f.svc.KeyList(ctx, f.ada, overview.KeyListQuery{})
			if err != nil {
				t.Fatal(err)
			}
			check("key list", ks.Pool)
			d, err := f.svc.KeyDetail(ctx, f.ada, f.revoked)
			if err != nil {
				t.Fatal(err)
			}
			check("pooled key's page", d.Pool)
			if !d.Key.Pooled || d.Key.Used != tc.wantKey || d.Key.Quota != 0 {
				t.Errorf("%s: pooled key's page: %+v", tc.name, d.Key)
			}
			d, err = f.svc.KeyDetail(ctx, f.ada, f.active)
			if err != nil {
				t.Fatal(err)
			}
			check("own-quota key's page", d.Pool)
			if d.Key.Pooled || d.Key.Quota != 500 {
				t.Errorf("%s: own-quota key's page: pooled %v, quota %d; want 500 of its own", tc.name, d.Key.Pooled, d.Key.Quota)
			}
			// Bob is on Free, a plan with a quota per key: no pool.
			if d, err := f.svc.AdminKey(ctx, f.bobKey); err != nil || d.Pool != nil || d.Key.Pooled || d.Key.Quota != 1000 {
				t.Errorf("%s: bob's key on free: %+v, %v; want its own quota, no pool", tc.name, d, err)
			}
			a, err := f.svc.AdminAccount(ctx, f.ada)
			if err != nil {
				t.Fatal(err)
			}
			check("operator's account page", a.Pool)
		}
	})
}

// failingPool is the store with PoolUsed failing, as a database gone
// away between two queries would.
type failingPool struct{ overview.Store }

func (failingPool) PoolUsed(context.Context, string, time.Time) (int64, error) {
	return 0, errors.New("connection refused")
}

// TestPoolReadFails: a pooled account's pages fail with the store's error
// when the pool cannot be read, rather than show a pool of 0; a plan with
// a quota per key never reads it.
func TestPoolReadFails(t *testing.T) {
	f := newFixtureOn(t, storetest.SQLite, nil, pooledCatalog(t))
	svc, err := overview.New(overview.Config{Store: failingPool{f.db}, Plans: pooledCatalog(t), Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	calls := map[string]func() error{
		"KeyList":         func() error { _, err := svc.KeyList(ctx, f.ada, overview.KeyListQuery{}); return err },
		"AccountOverview": func() error { _, err := svc.AccountOverview(ctx, f.ada); return err },
		"KeyDetail":       func() error { _, err := svc.KeyDetail(ctx, f.ada, f.revoked); return err },
		"AdminAccount":    func() error { _, err := svc.AdminAccount(ctx, f.ada); return err },
	}
	for name, call := range calls {
		if err := call(); err == nil || !strings.Contains(err.Error(), "overview: pool: connection refused") {
			t.Errorf("%s: %v, want the pool's read error", name, err)
		}
	}
	// Bob is on Free, a quota per key: nothing reads a pool.
	if _, err := svc.KeyList(ctx, f.bob, overview.KeyListQuery{}); err != nil {
		t.Errorf("a quota per key read the pool: %v", err)
	}
}
