package verify

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/plans"
)

// Equal shapes are one; a shape no entry holds any more is collected and
// its slot removed, so the table does not grow with keys that come and go.
func TestShapesInternAndCollect(t *testing.T) {
	tab := &shapes{}
	mk := func(account string) *shape {
		id := `"owner_id":"` + account + `",` + `"plan":"free","scopes":[],`
		return &shape{accountID: account, planID: "free", scopes: []string{}, id: id, ownerLen: len(`"owner_id":"` + account + `",`)}
	}
	a := tab.intern(mk("a"))
	if b := tab.intern(mk("a")); b != a {
		t.Fatal("two equal shapes interned apart")
	}
	c := tab.intern(mk("c"))
	if c == a || tab.len() != 2 {
		t.Fatalf("distinct shapes: same %v, table of %d", c == a, tab.len())
	}
	if a.owner() != `"owner_id":"a",` || a.planScopes() != `"plan":"free","scopes":[],` {
		t.Fatalf("parts %q %q", a.owner(), a.planScopes())
	}
	runtime.KeepAlive(c)
	deadline := time.Now().Add(10 * time.Second)
	for tab.len() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("an unheld shape still in the table (%d slots)", tab.len())
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if tab.intern(mk("a")) != a {
		t.Fatal("the held shape was lost")
	}
	runtime.KeepAlive(a)
}

// ownLoader is a Loader of no key, whose quota reads find nothing used:
// newEntry's reads, for entries built by hand.
type ownLoader struct{}

func (ownLoader) KeyByHash(context.Context, [32]byte) (*Record, error) { return nil, ErrNotFound }
func (ownLoader) QuotaUsed(context.Context, string, time.Time) (int64, error) {
	return 0, nil
}
func (ownLoader) PoolUsed(context.Context, string, time.Time) (int64, error) {
	return 0, nil
}
func (ownLoader) AddUsage(context.Context, []Usage) error { return nil }

// ownVerifier is a verifier on ownLoader with one plan: 10/s, burst 20,
// 1000 a month.
func ownVerifier(t *testing.T) *Verifier {
	t.Helper()
	cat, err := plans.New([]plans.Plan{{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 10, Burst: 20, MonthlyQuota: 1000, MaxKeys: 10}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(Config{Loader: ownLoader{}, Plans: cat})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A key with overrides answers its own limits and still shares its shape
// with the keys of its account and plan: its limits live apart (Entry.lim),
// so overrides cost an entry a small allocation, not a shape of its own.
// A billing period of its own (another account's) is another shape.
func TestOverridesShareTheShape(t *testing.T) {
	v := ownVerifier(t)
	now := time.Now()
	rate, quota := 3, int64(50)
	build := func(id, account string, override bool, period Window) *Entry {
		t.Helper()
		k := &keys.Key{ID: id, AccountID: account, Name: id, Scopes: []string{"read"}, Meta: json.RawMessage(`{}`)}
		if override {
			k.RateOverride, k.QuotaOverride = &rate, &quota
		}
		e, err := v.newEntry(context.Background(), &Record{Key: k, PlanID: "free", Period: period}, now, 0)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	plain := build("k1", "acct", false, Window{})
	own := build("k2", "acct", true, Window{})
	if own.shape != plain.shape {
		t.Error("a key with overrides has a shape of its own")
	}
	if plain.Rate() != 10 || plain.Burst() != 20 || plain.Quota() != 1000 {
		t.Errorf("plan's key: rate %d burst %d quota %d, want 10 20 1000", plain.Rate(), plain.Burst(), plain.Quota())
	}
	// A rate override raises the burst to at least the rate; 20 stays.
	if own.Rate() != 3 || own.Burst() != 20 || own.Quota() != 50 {
		t.Errorf("overridden key: rate %d burst %d quota %d, want 3 20 50", own.Rate(), own.Burst(), own.Quota())
	}
	period := Window{Start: now.Add(-time.Hour), End: now.Add(24 * time.Hour)}
	billed := build("k3", "acct", false, period)
	if billed.shape == plain.shape || !billed.Period().Start.Equal(period.Start.UTC()) || !plain.Period().Start.IsZero() {
		t.Errorf("a billing period of its own: same shape %v, periods %v and %v", billed.shape == plain.shape, billed.Period(), plain.Period())
	}
	ownBilled := build("k4", "acct", true, period)
	if ownBilled.shape != billed.shape || !ownBilled.Period().Start.Equal(period.Start.UTC()) || ownBilled.Quota() != 50 {
		t.Errorf("overrides in a billing period: same shape %v, period %v, quota %d", ownBilled.shape == billed.shape, ownBilled.Period(), ownBilled.Quota())
	}
}

// A re-read entry takes its id from the key's counting state, not from the
// row just read: the row's copy would be one more string a key for as long
// as the entry lives.
func TestRereadSharesTheID(t *testing.T) {
	v := ownVerifier(t)
	read := func() *Entry {
		t.Helper()
		k := &keys.Key{ID: strings.Clone("key-1"), AccountID: "acct", Name: "n", Meta: json.RawMessage(`{}`)}
		e, err := v.newEntry(context.Background(), &Record{Key: k, PlanID: "free"}, time.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	first, again := read(), read()
	if first.state != again.state || unsafe.StringData(again.KeyID) != unsafe.StringData(first.KeyID) || again.KeyID != "key-1" {
		t.Errorf("re-read: same state %v, same id string %v, id %q", first.state == again.state, unsafe.StringData(again.KeyID) == unsafe.StringData(first.KeyID), again.KeyID)
	}
}
