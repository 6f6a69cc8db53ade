package verify_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/store/storetest"
	"github.com/keyhold/keyhold/internal/team"
	"github.com/keyhold/keyhold/internal/testenv"
	"github.com/keyhold/keyhold/internal/verify"
)

// testPlans: a free plan with a small quota and a generous rate, and a
// tight-rate plan for limiter tests.
var testPlans = []plans.Plan{
	{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 1000, Burst: 1000, MonthlyQuota: 100, MaxKeys: 50},
	{ID: "slow", Name: "Slow", Price: "$0", RatePerSecond: 10, Burst: 10, MonthlyQuota: 1_000_000, MaxKeys: 50},
	{ID: "roomy", Name: "Roomy", Price: "$0", RatePerSecond: 1_000_000, Burst: 1_000_000, MonthlyQuota: 100_000, MaxKeys: 50},
	{ID: "pooled", Name: "Pooled", Price: "$0", RatePerSecond: 1_000_000, Burst: 1_000_000, MonthlyQuota: 100, MaxKeys: 50, QuotaScope: plans.ScopeAccount},
	{ID: "pooledslow", Name: "Pooled slow", Price: "$0", RatePerSecond: 10, Burst: 10, MonthlyQuota: 1000, MaxKeys: 50, QuotaScope: plans.ScopeAccount},
}

// flaky wraps the real store and fails on demand, to stand for a database
// outage.
type flaky struct {
	*store.DB
	down   atomic.Bool
	listed atomic.Int64 // SecretHashes calls
	// loseAnswer makes the next AddUsage write and then fail, as when the
	// connection drops after COMMIT reached the database.
	loseAnswer atomic.Bool
}

var errDown = errors.New("database is down")

func (f *flaky) KeyByHash(ctx context.Context, h [32]byte) (*verify.Record, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.DB.KeyByHash(ctx, h)
}

func (f *flaky) QuotaUsed(ctx context.Context, id string, w time.Time) (int64, error) {
	if f.down.Load() {
		return 0, errDown
	}
	return f.DB.QuotaUsed(ctx, id, w)
}

func (f *flaky) PoolUsed(ctx context.Context, id string, w time.Time) (int64, error) {
	if f.down.Load() {
		return 0, errDown
	}
	return f.DB.PoolUsed(ctx, id, w)
}

func (f *flaky) SecretHashes(ctx context.Context, fn func([32]byte)) error {
	f.listed.Add(1)
	if f.down.Load() {
		return errDown
	}
	return f.DB.SecretHashes(ctx, fn)
}

func (f *flaky) AddUsage(ctx context.Context, u []verify.Usage) error {
	if f.down.Load() {
		return errDown
	}
	if err := f.DB.AddUsage(ctx, u); err != nil {
		return err
	}
	if f.loseAnswer.Swap(false) {
		return errDown
	}
	return nil
}

type fixture struct {
	t       testing.TB
	db      *flaky
	path    string
	url     string // the database; "": SQLite at path
	keys    *keys.Service
	catalog *plans.Catalog
	v       *verify.Verifier
	mu      sync.Mutex
	now     time.Time
	account string
}

func (f *fixture) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fixture) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// MustFixture opens a fresh SQLite database with one account and a
// verifier wired to the key service's events, as cmd/keyhold wires them.
func MustFixture(tb testing.TB) *fixture {
	tb.Helper()
	return mustFixtureOn(tb, "")
}

// mustFixtureOn is MustFixture on the database at url ("": SQLite).
func mustFixtureOn(tb testing.TB, url string) *fixture {
	tb.Helper()
	f := &fixture{t: tb, path: filepath.Join(tb.TempDir(), "k.db"), url: url, now: time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)}
	if f.url == "" {
		f.url = "sqlite://" + f.path
	}
	f.open()
	u := &auth.User{ID: keyhold.NewID(), Email: "ada@example.com", PasswordHash: "x", CreatedAt: f.now, UpdatedAt: f.now}
	if err := f.db.CreateUser(context.Background(), u, &team.Account{ID: u.ID, Name: u.Email, CreatedAt: f.now, UpdatedAt: f.now}, nil); err != nil {
		tb.Fatal(err)
	}
	f.account = u.ID
	return f
}

// owner is the fixture's user acting in their personal account, which
// shares their id, as its owner.
func (f *fixture) owner() audit.Actor {
	return audit.Actor{UserID: f.account, AccountID: f.account, Role: string(team.Owner)}
}

// open (re)opens the database and builds fresh services: a restart.
func (f *fixture) open() {
	tb := f.t
	ctx := context.Background()
	db := storetest.Open(tb, f.url)
	f.db = &flaky{DB: db}
	var err error
	f.catalog, err = plans.New(testPlans)
	if err != nil {
		tb.Fatal(err)
	}
	f.keys, err = keys.NewService(keys.Config{Store: db, Plans: f.catalog, Now: f.Now})
	if err != nil {
		tb.Fatal(err)
	}
	f.v = f.newVerifier(nil)
	if err := f.v.LoadSecrets(ctx); err != nil {
		tb.Fatal(err)
	}
	f.keys.Subscribe(f.v.KeyEvent)
}

// newVerifier returns a verifier over the fixture's database, with the
// filter of known secrets (not yet loaded), counting with limits (nil: in
// memory).
func (f *fixture) newVerifier(limits verify.Limits) *verify.Verifier {
	f.t.Helper()
	return f.newVerifierWith(limits, nil)
}

// newVerifierWith is newVerifier hearing other instances through inv (nil:
// alone).
func (f *fixture) newVerifierWith(limits verify.Limits, inv verify.Invalidator) *verify.Verifier {
	f.t.Helper()
	v, err := verify.New(verify.Config{Loader: f.db, Secrets: f.db, Limits: limits, Invalidator: inv, Plans: f.catalog, Now: f.Now})
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

func (f *fixture) MustKey(st keys.Settings) (*keys.Key, string) {
	f.t.Helper()
	return f.MustKeyIn(f.account, st)
}

// MustAccount adds an account, with a user of the same id as its owner,
// on the fixture's plan for new accounts (the catalog's default).
func (f *fixture) MustAccount() string {
	f.t.Helper()
	id := keyhold.NewID()
	u := &auth.User{ID: id, Email: id + "@example.com", PasswordHash: "x", CreatedAt: f.now, UpdatedAt: f.now}
	if err := f.db.CreateUser(context.Background(), u, &team.Account{ID: id, Name: u.Email, CreatedAt: f.now, UpdatedAt: f.now}, nil); err != nil {
		f.t.Fatal(err)
	}
	return id
}

// MustKeyIn makes a key in an account made by the fixture (its owner has
// the account's id).
func (f *fixture) MustKeyIn(account string, st keys.Settings) (*keys.Key, string) {
	f.t.Helper()
	if st.Name == "" {
		st.Name = "k"
	}
	owner := audit.Actor{UserID: account, AccountID: account, Role: string(team.Owner)}
	k, s, err := f.keys.Create(context.Background(), owner, account, st)
	if err != nil {
		f.t.Fatal(err)
	}
	return k, s.Reveal()
}

func (f *fixture) Verify(key string, cost int64, scopes ...string) verify.Result {
	var res verify.Result
	f.v.Verify(context.Background(), &verify.Request{Key: key, Cost: cost, Scopes: scopes}, &res)
	return res
}

func (f *fixture) setPlan(plan string) {
	f.t.Helper()
	f.setPlanOf(f.account, plan)
}

// setPlanOf puts an account on a plan, and drops its keys from the
// fixture's verifier (other instances are the test's to tell).
func (f *fixture) setPlanOf(account, plan string) {
	f.t.Helper()
	if err := f.db.DB.SetPlan(context.Background(), account, plan); err != nil {
		f.t.Fatal(err)
	}
	f.v.InvalidateAccount(account)
}

func TestCodes(t *testing.T) {
	f := MustFixture(t)
	ctx := context.Background()
	_, key := f.MustKey(keys.Settings{Scopes: []string{"read", "write"}, Meta: map[string]any{"team": "core"}})
	exp := f.now.Add(time.Hour)
	_, expiring := f.MustKey(keys.Settings{ExpiresAt: &exp})
	revokedKey, revoked := f.MustKey(keys.Settings{})
	if err := f.keys.Revoke(ctx, f.owner(), f.account, revokedKey.ID); err != nil {
		t.Fatal(err)
	}
	unknown, _ := keys.Generate()
	flipped := []byte(key)
	flipped[20] ^= 1

	tests := []struct {
		name   string
		key    string
		cost   int64
		scopes []string
		want   verify.Code
		status int
	}{
		{"valid", key, 1, nil, verify.Valid, 200},
		{"valid with scopes", key, 1, []string{"read", "write"}, verify.Valid, 200},
		{"cost zero", key, 0, nil, verify.Valid, 200},
		{"missing scope", key, 1, []string{"admin"}, verify.InsufficientScope, 403},
		{"malformed", "kh_live_nope", 1, nil, verify.Malformed, 401},
		{"flipped character", string(flipped), 1, nil, verify.Malformed, 401},
		{"unknown", unknown.Reveal(), 1, nil, verify.NotFound, 401},
		{"revoked", revoked, 1, nil, verify.Revoked, 401},
		{"bad cost", key, 1001, nil, verify.BadRequest, 400},
		{"negative cost", key, -1, nil, verify.BadRequest, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.Verify(tt.key, tt.cost, tt.scopes...)
			if res.Code != tt.want || res.Code.HTTPStatus() != tt.status {
				t.Errorf("got %s (%d), want %s (%d)", res.Code, res.Code.HTTPStatus(), tt.want, tt.status)
			}
		})
	}
	f.Advance(2 * time.Hour)
	if res := f.Verify(expiring, 1); res.Code != verify.Expired {
		t.Errorf("expired key: %s", res.Code)
	}
}

func TestMalformedKeysCauseNoLookup(t *testing.T) {
	f := MustFixture(t)
	for _, k := range []string{"", "x", "kh_live_" + string(make([]byte, 38)), "kh_live_аbcdefghijklmnopqrstuvwxyz0123450Qkiwo", "kh_live_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123450Qkiw\x00"} {
		if res := f.Verify(k, 1); res.Code != verify.Malformed {
			t.Errorf("%q: %s", k, res.Code)
		}
	}
	if n := f.v.Loads(); n != 0 {
		t.Errorf("malformed keys caused %d lookups", n)
	}
}

func TestSteadyStateMakesNoQuery(t *testing.T) {
	f := MustFixture(t)
	_, key := f.MustKey(keys.Settings{})
	unknown, _ := keys.Generate()
	f.Verify(key, 1)
	f.Verify(unknown.Reveal(), 1)
	before := f.v.Loads()
	for range 50 {
		if res := f.Verify(key, 1); res.Code != verify.Valid {
			t.Fatalf("%s", res.Code)
		}
		if res := f.Verify(unknown.Reveal(), 1); res.Code != verify.NotFound {
			t.Fatalf("%s", res.Code)
		}
	}
	if n := f.v.Loads() - before; n != 0 {
		t.Errorf("%d database reads in steady state (negative entries included)", n)
	}
	// After the TTL a cached key still answers at once, and is read again
	// in the background, once.
	f.Advance(6 * time.Minute)
	if res := f.Verify(key, 1); res.Code != verify.Valid {
		t.Fatalf("stale entry: %s", res.Code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.v.Loads()-before < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	f.Verify(key, 1)
	if n := f.v.Loads() - before; n != 1 {
		t.Errorf("%d reads after the TTL, want 1", n)
	}
}

func TestRevokeRotateAndEditTakeEffectAtOnce(t *testing.T) {
	f := MustFixture(t)
	ctx := context.Background()
	k, key := f.MustKey(keys.Settings{Scopes: []string{"read"}})
	if res := f.Verify(key, 1, "read"); res.Code != verify.Valid {
		t.Fatal(res.Code)
	}
	// Edit: the scope goes away.
	if _, err := f.keys.Update(ctx, f.owner(), f.account, k.ID, keys.Settings{Name: "k"}); err != nil {
		t.Fatal(err)
	}
	if res := f.Verify(key, 1, "read"); res.Code != verify.InsufficientScope {
		t.Errorf("after dropping the scope: %s", res.Code)
	}
	// Rotate with a grace period: both work, then only the new one.
	_, fresh, err := f.keys.Rotate(ctx, f.owner(), f.account, k.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if res := f.Verify(key, 1); res.Code != verify.Valid {
		t.Errorf("old secret in its grace period: %s", res.Code)
	}
	if res := f.Verify(fresh.Reveal(), 1); res.Code != verify.Valid || res.Entry.KeyID != k.ID {
		t.Errorf("new secret: %s", res.Code)
	}
	f.Advance(time.Hour + time.Second)
	if res := f.Verify(key, 1); res.Code != verify.Expired {
		t.Errorf("old secret after its grace period: %s", res.Code)
	}
	// Rotate with no grace: the old secret dies now.
	_, newest, err := f.keys.Rotate(ctx, f.owner(), f.account, k.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res := f.Verify(fresh.Reveal(), 1); res.Code != verify.NotFound {
		t.Errorf("secret rotated away with no grace: %s", res.Code)
	}
	// Revoke: refused on the very next call, every secret.
	if res := f.Verify(newest.Reveal(), 1); res.Code != verify.Valid {
		t.Fatal(res.Code)
	}
	if err := f.keys.Revoke(ctx, f.owner(), f.account, k.ID); err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		if res := f.Verify(newest.Reveal(), 1); res.Code != verify.Revoked {
			t.Fatalf("after revoke: %s", res.Code)
		}
	}
}

func TestExactQuotaUnderConcurrency(t *testing.T) {
	f := MustFixture(t)
	_, key := f.MustKey(keys.Settings{})
	const quota, extra = 100, 60
	var valid, exceeded atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range quota + extra {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			switch f.Verify(key, 1).Code {
			case verify.Valid:
				valid.Add(1)
			case verify.QuotaExceeded:
				exceeded.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if valid.Load() != quota || exceeded.Load() != extra {
		t.Fatalf("valid %d, exceeded %d; want %d and %d", valid.Load(), exceeded.Load(), quota, extra)
	}
	res := f.Verify(key, 1)
	if res.Code != verify.QuotaExceeded || res.Decision.QuotaRemaining() != 0 || res.RetryAfter() < 1 {
		t.Errorf("after the quota: %s remaining %d retry %d", res.Code, res.Decision.QuotaRemaining(), res.RetryAfter())
	}
	// Refused calls consumed nothing: a zero-cost call still fits.
	if res := f.Verify(key, 0); res.Code != verify.Valid {
		t.Errorf("zero-cost call after the quota: %s", res.Code)
	}
	// A new month starts a new window.
	f.Advance(30 * 24 * time.Hour)
	if res := f.Verify(key, 1); res.Code != verify.Valid || res.Decision.QuotaRemaining() != quota-1 {
		t.Errorf("new month: %s remaining %d", res.Code, res.Decision.QuotaRemaining())
	}
}

func TestRateLimitGCRA(t *testing.T) {
	f := MustFixture(t)
	f.setPlan("slow") // 10/s, burst 10
	_, key := f.MustKey(keys.Settings{})
	for i := range 10 {
		res := f.Verify(key, 1)
		if res.Code != verify.Valid || res.Decision.RateRemaining != int64(9-i) {
			t.Fatalf("call %d: %s remaining %d", i, res.Code, res.Decision.RateRemaining)
		}
	}
	res := f.Verify(key, 1)
	if res.Code != verify.RateLimited || res.Decision.RetryAfter != 100*time.Millisecond || res.RetryAfter() != 1 {
		t.Fatalf("11th call: %s retry %v", res.Code, res.Decision.RetryAfter)
	}
	used := res.Decision.QuotaUsed
	f.Advance(100 * time.Millisecond)
	if res := f.Verify(key, 1); res.Code != verify.Valid {
		t.Errorf("after 100ms: %s", res.Code)
	}
	if res := f.Verify(key, 1); res.Code != verify.RateLimited {
		t.Errorf("second call after 100ms: %s", res.Code)
	}
	if res := f.Verify(key, 0); res.Decision.QuotaUsed != used+1 {
		t.Errorf("rate-limited calls took quota: used %d, want %d", res.Decision.QuotaUsed, used+1)
	}
	// No fixed-window doubling: 20 calls straddling a second boundary.
	f.Advance(5 * time.Second)
	allowed := 0
	for i := range 20 {
		if i == 10 {
			f.Advance(10 * time.Millisecond)
		}
		if f.Verify(key, 1).Code == verify.Valid {
			allowed++
		}
	}
	if allowed > 11 {
		t.Errorf("%d of 20 allowed across a boundary", allowed)
	}
	// A cost larger than the burst can never pass.
	f.Advance(5 * time.Second)
	if res := f.Verify(key, 11); res.Code != verify.RateLimited {
		t.Errorf("cost above burst: %s", res.Code)
	}
}

func TestQuotaRefusalGivesRateBack(t *testing.T) {
	f := MustFixture(t)
	f.setPlan("slow")
	k, key := f.MustKey(keys.Settings{})
	quota := int64(3)
	if err := f.db.DB.SetKeyOverrides(context.Background(), k.ID, nil, nil, &quota); err != nil {
		t.Fatal(err)
	}
	f.v.InvalidateKey(k.ID)
	for range 3 {
		f.Verify(key, 1)
	}
	for range 20 {
		if res := f.Verify(key, 1); res.Code != verify.QuotaExceeded {
			t.Fatalf("%s", res.Code)
		}
	}
	if res := f.Verify(key, 0); res.Decision.RateRemaining != 7 {
		t.Errorf("quota refusals took rate: remaining %d, want 7", res.Decision.RateRemaining)
	}
}

func TestUsageFlushedExactlyOnceWhileTrafficRuns(t *testing.T) {
	f := MustFixture(t)
	f.setPlan("slow")
	k, key := f.MustKey(keys.Settings{})
	big := int64(1 << 40)
	rate := 1 << 20
	if err := f.db.DB.SetKeyOverrides(context.Background(), k.ID, &rate, &rate, &big); err != nil {
		t.Fatal(err)
	}
	f.v.InvalidateKey(k.ID)
	ctx := context.Background()
	// Counted as the clients saw them: a fast machine can use up the
	// burst, after which valid calls stop but scope denials go on.
	var valid, denied atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if f.Verify(key, 1).Code == verify.Valid {
					valid.Add(1)
				}
				if f.Verify(key, 1, "missing-scope").Code == verify.InsufficientScope {
					denied.Add(1)
				}
			}
		}()
	}
	for range 20 {
		if err := f.v.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if err := f.v.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	u, err := f.db.DB.KeyUsageTotals(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.Valid != valid.Load() || u.Cost != valid.Load() || u.ScopeDenied != denied.Load() || u.Invalid != 0 {
		t.Errorf("database has valid %d cost %d scope denied %d invalid %d; clients saw %d valid, %d scope denied",
			u.Valid, u.Cost, u.ScopeDenied, u.Invalid, valid.Load(), denied.Load())
	}
	used, _ := f.db.DB.QuotaUsed(ctx, k.ID, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	if used != valid.Load() {
		t.Errorf("quota used %d, want %d", used, valid.Load())
	}
	got, _ := f.keys.Get(ctx, f.account, k.ID)
	if got.LastUsed == nil || !got.LastUsed.Equal(f.now) {
		t.Errorf("last used %v, want %v", got.LastUsed, f.now)
	}
}

func TestRestartContinuesQuota(t *testing.T) {
	f := MustFixture(t)
	_, key := f.MustKey(keys.Settings{})
	for range 40 {
		f.Verify(key, 1)
	}
	if err := f.v.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.open() // a new process on the same database
	res := f.Verify(key, 1)
	if res.Code != verify.Valid || res.Decision.QuotaRemaining() != 59 {
		t.Errorf("after restart: %s remaining %d, want 59", res.Code, res.Decision.QuotaRemaining())
	}
}

func TestDatabaseOutage(t *testing.T) {
	f := MustFixture(t)
	ctx := context.Background()
	k, cached := f.MustKey(keys.Settings{})
	_, uncached := f.MustKey(keys.Settings{})
	f.Verify(cached, 1)

	f.db.down.Store(true)
	for range 5 {
		if res := f.Verify(cached, 1); res.Code != verify.Valid {
			t.Fatalf("cached key during the outage: %s", res.Code)
		}
	}
	res := f.Verify(uncached, 1)
	if res.Code != verify.Unavailable || res.Code.HTTPStatus() != 503 || res.RetryAfter() == 0 {
		t.Errorf("uncached key during the outage: %s", res.Code)
	}
	// Past the TTL the stale entry keeps serving.
	f.Advance(6 * time.Minute)
	if res := f.Verify(cached, 1); res.Code != verify.Valid {
		t.Errorf("stale cached key during the outage: %s", res.Code)
	}
	if err := f.v.Flush(ctx); err == nil {
		t.Fatal("flush succeeded with the database down")
	}
	if f.v.PendingRows() == 0 {
		t.Fatal("usage was not kept for later")
	}

	f.db.down.Store(false)
	if err := f.v.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	u, _ := f.db.DB.KeyUsageTotals(ctx, k.ID)
	if u.Valid != 7 {
		t.Errorf("usage written after the outage: %d valid, want 7", u.Valid)
	}
	if f.v.PendingRows() != 0 {
		t.Errorf("%d rows still pending", f.v.PendingRows())
	}
	if res := f.Verify(uncached, 1); res.Code != verify.Valid {
		t.Errorf("uncached key after the outage: %s", res.Code)
	}
}

// TestFlushAfterALostAnswerCountsOnce writes a flush whose answer is lost
// (committed, yet an error comes back) and flushes again: the retry must
// find the batch written and not add it twice, while usage counted in
// between is still written.
func TestFlushAfterALostAnswerCountsOnce(t *testing.T) {
	f := MustFixture(t)
	ctx := context.Background()
	k, key := f.MustKey(keys.Settings{})
	for range 3 {
		f.Verify(key, 1)
	}
	f.db.loseAnswer.Store(true)
	if err := f.v.Flush(ctx); err == nil {
		t.Fatal("the flush whose answer was lost reported success")
	}
	f.Verify(key, 1) // counted while the batch waits for its retry
	for range 2 {
		if err := f.v.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	u, _ := f.db.DB.KeyUsageTotals(ctx, k.ID)
	used, _ := f.db.DB.QuotaUsed(ctx, k.ID, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	if u.Valid != 4 || used != 4 {
		t.Errorf("after a lost answer and a retry: %d valid and %d quota used, want 4 and 4", u.Valid, used)
	}
	if f.v.PendingRows() != 0 {
		t.Errorf("%d rows still pending", f.v.PendingRows())
	}
}

func TestPlanChangeKeepsUsageAndChangesLimit(t *testing.T) {
	f := MustFixture(t)
	_, key := f.MustKey(keys.Settings{})
	for range 100 {
		f.Verify(key, 1)
	}
	if res := f.Verify(key, 1); res.Code != verify.QuotaExceeded {
		t.Fatalf("%s", res.Code)
	}
	f.setPlan("slow")
	res := f.Verify(key, 1)
	if res.Code != verify.Valid || res.Decision.QuotaLimit != 1_000_000 || res.Decision.QuotaUsed != 101 || res.Entry.PlanID() != "slow" {
		t.Errorf("after the upgrade: %s limit %d used %d", res.Code, res.Decision.QuotaLimit, res.Decision.QuotaUsed)
	}
}

// failingLimits answers every Take with an error, as a Limits that can
// neither count nor fall back.
type failingLimits struct{ verify.MemoryLimits }

var errNoLimits = errors.New("limits: no answer")

func (failingLimits) Take(context.Context, *verify.Entry, int64, time.Time) (verify.Decision, error) {
	return verify.Decision{}, errNoLimits
}

// TestLimitsErrorIsUnavailableNeverValid: when Limits cannot answer, the
// call is UNAVAILABLE (503, Retry-After), never an unmetered VALID, and it
// takes and records nothing. Both a Limits that fails and Redis limits
// whose caller went away (the one error RedisLimits returns).
func TestLimitsErrorIsUnavailableNeverValid(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits func(*fixture) verify.Limits
		ctx    func() context.Context
	}{
		{"LimitsFail", func(*fixture) verify.Limits { return failingLimits{} }, context.Background},
		{"RedisCallerGone", func(f *fixture) verify.Limits {
			rl, err := verify.NewRedisLimits(mustRedis(t, testenv.Redis(t)), f.db)
			if err != nil {
				t.Fatal(err)
			}
			return rl
		}, func() context.Context { ctx, cancel := context.WithCancel(context.Background()); cancel(); return ctx }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := MustFixture(t)
			k, key := f.MustKey(keys.Settings{})
			limits := tc.limits(f)
			v := f.newVerifier(limits)
			if err := v.LoadSecrets(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, ok := limits.(failingLimits); !ok {
				// Cached, with one call counted, before the caller goes away.
				var res verify.Result
				v.Verify(context.Background(), &verify.Request{Key: key, Cost: 1}, &res)
				if res.Code != verify.Valid {
					t.Fatal(res.Code)
				}
			}
			before, _, _ := v.QuotaUsed(k.ID, f.Now())
			var res verify.Result
			v.Verify(tc.ctx(), &verify.Request{Key: key, Cost: 5}, &res)
			if res.Code != verify.Unavailable {
				t.Fatalf("a call Limits could not count: %s, want UNAVAILABLE", res.Code)
			}
			if s := res.Code.HTTPStatus(); s != 503 {
				t.Errorf("HTTP status %d, want 503", s)
			}
			if ra := res.RetryAfter(); ra <= 0 {
				t.Errorf("Retry-After %d, want a positive number of seconds", ra)
			}
			if body := string(verify.AppendJSON(nil, &res)); !strings.HasPrefix(body, `{"valid":false,"code":"UNAVAILABLE"`) {
				t.Errorf("answer %s", body)
			}
			if rl, ok := limits.(*verify.RedisLimits); ok && rl.Degraded() {
				t.Error("a caller going away called Redis down")
			}
			if after, _, _ := v.QuotaUsed(k.ID, f.Now()); after != before {
				t.Errorf("quota used went from %d to %d on an UNAVAILABLE call", before, after)
			}
			if err := v.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			u, err := f.db.DB.KeyUsageTotals(context.Background(), k.ID)
			if err != nil {
				t.Fatal(err)
			}
			if u.Valid != before || u.Cost != before {
				t.Errorf("usage written: %d valid, cost %d; want only the %d calls before", u.Valid, u.Cost, before)
			}
		})
	}
}
