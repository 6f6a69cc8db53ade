package verify_test

import (
	"context"
	"testing"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/testenv"
	"github.com/keyhold/keyhold/internal/verify"
)

// pair is two instances, A and B, over one database: A's broadcast hears
// the key service's events (as cmd/keyhold wires it), B listens.
type pair struct {
	a, b   *verify.Verifier
	ba, bb *verify.Broadcast
}

// transport builds the invalidators (and limits) of two instances.
type transport struct {
	name string
	// fixture opens the database the instances share.
	fixture func(t *testing.T) *fixture
	// pair returns A's and B's invalidators and limits (nil: in memory)
	// and whether the filter of known secrets may be used.
	pair func(t *testing.T, f *fixture) (ia, ib verify.Invalidator, la, lb verify.Limits, secrets bool)
	// atOnce: B sees a change on its very next call, with no wait for a
	// message (Local delivers synchronously; Redis's change counters are
	// checked on every call). NOTIFY arrives a moment later.
	atOnce bool
}

var transports = []transport{
	{
		name:    "Local",
		fixture: func(t *testing.T) *fixture { return MustFixture(t) },
		pair: func(t *testing.T, f *fixture) (verify.Invalidator, verify.Invalidator, verify.Limits, verify.Limits, bool) {
			l := verify.NewLocal()
			return l, l.Peer(), nil, nil, true
		},
		atOnce: true,
	},
	{
		name:    "Redis",
		fixture: func(t *testing.T) *fixture { return MustFixture(t) },
		pair: func(t *testing.T, f *fixture) (verify.Invalidator, verify.Invalidator, verify.Limits, verify.Limits, bool) {
			url := testenv.Redis(t)
			ca, cb := mustRedis(t, url), mustRedis(t, url)
			la, err := verify.NewRedisLimits(ca, f.db)
			if err != nil {
				t.Fatal(err)
			}
			lb, err := verify.NewRedisLimits(cb, f.db)
			if err != nil {
				t.Fatal(err)
			}
			return verify.NewRedisInvalidator(ca), verify.NewRedisInvalidator(cb), la, lb, true
		},
		atOnce: true,
	},
	{
		name:    "PostgresNotify",
		fixture: func(t *testing.T) *fixture { return mustFixtureOn(t, testenv.Postgres(t)) },
		pair: func(t *testing.T, f *fixture) (verify.Invalidator, verify.Invalidator, verify.Limits, verify.Limits, bool) {
			// B on a connection pool of its own, as another process.
			other, err := store.Open(context.Background(), f.url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { other.Close() })
			// NOTIFY cannot tell an instance it heard of every secret:
			// no filter (as cmd/keyhold wires it).
			return f.db.DB.Notifier(nil), other.Notifier(nil), nil, nil, false
		},
	},
}

func (tr transport) start(t *testing.T) (*fixture, *pair) {
	t.Helper()
	f := tr.fixture(t)
	ia, ib, la, lb, secrets := tr.pair(t, f)
	newV := func(l verify.Limits, inv verify.Invalidator) *verify.Verifier {
		c := verify.Config{Loader: f.db, Limits: l, Invalidator: inv, Plans: f.catalog, Now: f.Now}
		if secrets {
			c.Secrets = f.db
		}
		v, err := verify.New(c)
		if err != nil {
			t.Fatal(err)
		}
		if secrets {
			if err := v.LoadSecrets(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		return v
	}
	p := &pair{a: newV(la, ia), b: newV(lb, ib)}
	p.ba, p.bb = verify.NewBroadcast(ia, p.a, nil), verify.NewBroadcast(ib, p.b, nil)
	f.keys.Subscribe(func(e keys.Event) { p.ba.KeyEvent(context.Background(), e) })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go p.ba.Listen(ctx)
	go p.bb.Listen(ctx)
	return f, p
}

// TestInvalidatorsCarryChangesBetweenInstances: for each transport, two
// instances over one database; what A changes, B answers by.
func TestInvalidatorsCarryChangesBetweenInstances(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			f, p := tr.start(t)
			ctx := context.Background()
			if tr.name != "PostgresNotify" { // the transports whose B keeps a filter of known secrets
				// B's subscription starts in the background: until it
				// listens, a secret A announces never reaches B's filter,
				// which would answer the new key NOT_FOUND. Wait for B to
				// hear a made-up one first.
				waitFor(t, "B to listen", func() bool {
					p.ba.KeyEvent(ctx, keys.Event{Kind: keys.KeyCreated, SecretHash: [32]byte{1}})
					n, _ := p.b.KnownSecrets()
					return n >= 1
				})
			}
			k, key := f.MustKey(keys.Settings{}) // made on A
			if c := verifyOn(p.b, key); c != verify.Valid {
				t.Fatalf("a key made on A, first call on B: %s", c)
			}
			// B listens (its subscription starts in the background): a key
			// change announced by A drops B's entry.
			waitFor(t, "B to drop the key A announced changed", func() bool {
				p.ba.KeyChanged(ctx, k.AccountID, k.ID)
				return p.b.CachedKeys() == 0
			})
			if c := verifyOn(p.b, key); c != verify.Valid {
				t.Fatalf("B after the announced change: %s", c)
			}

			// A plan change drops the account's keys on B.
			loads := p.b.Loads()
			p.ba.AccountChanged(ctx, f.account, []string{k.ID})
			if !tr.atOnce {
				waitFor(t, "B to drop the account's keys", func() bool { return p.b.CachedKeys() == 0 })
			}
			if c := verifyOn(p.b, key); c != verify.Valid || p.b.Loads() != loads+1 {
				t.Errorf("B after A's plan change: %s, %d reads, want VALID read again", c, p.b.Loads()-loads)
			}

			// A revoke on A.
			if err := f.keys.Revoke(ctx, f.owner(), f.account, k.ID); err != nil {
				t.Fatal(err)
			}
			if tr.atOnce {
				if c := verifyOn(p.b, key); c != verify.Revoked {
					t.Errorf("B's next call after A revoked the key: %s", c)
				}
			} else {
				waitFor(t, "B to answer REVOKED", func() bool { return verifyOn(p.b, key) == verify.Revoked })
			}
			if c := verifyOn(p.a, key); c != verify.Revoked {
				t.Errorf("A after its own revoke: %s", c)
			}

			// And the other way: B's own announcements reach A.
			k2, key2 := f.MustKey(keys.Settings{})
			if c := verifyOn(p.a, key2); c != verify.Valid {
				t.Fatalf("A, second key: %s", c)
			}
			// By the key, not by a count: A's own earlier announcements
			// may still come back to it over NOTIFY and drop other
			// entries meanwhile.
			// A may decline to cache an entry loaded while a drop ran
			// (cache.put): verify again until it holds it.
			waitFor(t, "A to cache the second key", func() bool {
				verifyOn(p.a, key2)
				return p.a.HoldsKey(k2.ID)
			})
			waitFor(t, "A to drop the key B announced changed", func() bool {
				p.bb.KeyChanged(ctx, k2.AccountID, k2.ID)
				return !p.a.HoldsKey(k2.ID)
			})
		})
	}
}

// TestLocalPeersShareNewSecretsAtOnce: a key made through one Local peer
// is in the other's filter of known secrets before the service returns,
// so the other neither refuses it nor reads the database for random keys.
func TestLocalPeersShareNewSecretsAtOnce(t *testing.T) {
	f, p := transports[0].start(t)
	waitFor(t, "B to listen", func() bool {
		p.ba.KeyEvent(context.Background(), keys.Event{Kind: keys.KeyCreated, SecretHash: [32]byte{1}})
		n, _ := p.b.KnownSecrets()
		return n == 1
	})
	for range 5 {
		_, key := f.MustKey(keys.Settings{})
		if c := verifyOn(p.b, key); c != verify.Valid {
			t.Fatalf("a key made on A, on B: %s", c)
		}
	}
	if n, _ := p.b.KnownSecrets(); n != 6 {
		t.Errorf("B's filter holds %d secrets, want 6", n)
	}
	wantNotFoundNoRead(t, p.b, 200)
}

// readCounter counts the key reads of the fixture's store, and runs
// after (once) right after a read returns, before the verifier caches it.
type readCounter struct {
	*flaky
	reads int
	after func()
}

func (c *readCounter) KeyByHash(ctx context.Context, h [32]byte) (*verify.Record, error) {
	c.reads++
	r, err := c.flaky.KeyByHash(ctx, h)
	if fn := c.after; fn != nil {
		c.after = nil
		fn()
	}
	return r, err
}

// TestAChangeAppliedDuringALoadIsNotCached: the key is read, then changed
// and its change applied before the read is cached (an announcement that
// overtakes the load). The load's answer stands for its own call, but it
// must not be cached: the next call reads the key again and sees the
// change.
func TestAChangeAppliedDuringALoadIsNotCached(t *testing.T) {
	f := MustFixture(t)
	ctx := context.Background()
	k, key := f.MustKey(keys.Settings{})
	loader := &readCounter{flaky: f.db}
	v, err := verify.New(verify.Config{Loader: loader, Plans: f.catalog, Now: f.Now})
	if err != nil {
		t.Fatal(err)
	}
	loader.after = func() {
		if err := f.db.DB.RevokeKey(ctx, f.account, k.ID, f.Now(), audit.Entry{}); err != nil {
			t.Error(err)
		}
		v.InvalidateKey(k.ID) // the revoke's announcement arrives
	}
	if c := verifyOn(v, key); c != verify.Valid {
		t.Fatalf("the call whose read preceded the revoke: %s", c)
	}
	if c := verifyOn(v, key); c != verify.Revoked || loader.reads != 2 {
		t.Errorf("the next call: %s after %d reads, want REVOKED, read again", c, loader.reads)
	}
}

// TestALoadReadsTheKeyOnce: with Redis's change counters too, a cache
// miss is one read of the key (it was two: the key, the counter, the key
// again).
func TestALoadReadsTheKeyOnce(t *testing.T) {
	f := MustFixture(t)
	_, key := f.MustKey(keys.Settings{})
	conn := mustRedis(t, testenv.Redis(t))
	rl, err := verify.NewRedisLimits(conn, f.db)
	if err != nil {
		t.Fatal(err)
	}
	loader := &readCounter{flaky: f.db}
	v, err := verify.New(verify.Config{Loader: loader, Plans: f.catalog, Now: f.Now, Limits: rl, Invalidator: verify.NewRedisInvalidator(conn)})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if c := verifyOn(v, key); c != verify.Valid {
			t.Fatal(c)
		}
	}
	if loader.reads != 1 {
		t.Errorf("%d reads of the key for one miss and two cached calls, want 1", loader.reads)
	}
}

// TestLocalListenEndsWithItsContext: a peer that stopped listening hears
// nothing more, and one announcing never hears itself.
func TestLocalListenEndsWithItsContext(t *testing.T) {
	a := verify.NewLocal()
	b := a.Peer()
	var heardA, heardB int
	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	go a.Listen(ctxA, func(verify.Change) { heardA++ })
	ctxB, cancelB := context.WithCancel(context.Background())
	done := make(chan struct{})
	listening := make(chan struct{})
	go func() {
		defer close(done)
		b.Listen(ctxB, func(c verify.Change) {
			if c.ID == "ping" {
				heardB++
				if heardB == 1 {
					close(listening)
				}
			}
		})
	}()
	waitFor(t, "B to listen", func() bool {
		select {
		case <-listening:
			return true
		default:
			_ = a.Announce(context.Background(), verify.Change{Kind: verify.KeyChange, ID: "ping"})
			return false
		}
	})
	cancelB()
	<-done
	before := heardB
	if err := a.Announce(context.Background(), verify.Change{Kind: verify.KeyChange, ID: "ping"}); err != nil {
		t.Fatal(err)
	}
	if heardB != before {
		t.Error("B heard an announcement after it stopped listening")
	}
	if heardA != 0 {
		t.Errorf("A heard %d of its own announcements", heardA)
	}
}

// TestRedisInvalidatorDown: with Redis gone, an announcement fails (the
// broadcast logs it), the connection turns degraded, and generations read
// 0, so entries cached meanwhile are stale once Redis is back.
func TestRedisInvalidatorDown(t *testing.T) {
	r := testenv.PrivateRedis(t)
	conn := mustRedis(t, r.URL())
	inv := verify.NewRedisInvalidator(conn)
	ctx := context.Background()
	if err := inv.Announce(ctx, verify.Change{Kind: verify.KeyChange, ID: "k1", Account: "a1"}); err != nil {
		t.Fatal(err)
	}
	if g, a := inv.Generation(ctx, "a1", "k1"); g != 1 || a != 0 || inv.Degraded() {
		t.Fatalf("generations %d, %d, degraded %v; want 1, 0, no", g, a, inv.Degraded())
	}
	if err := inv.Announce(ctx, verify.Change{Kind: verify.AccountChange, ID: "a1", KeyIDs: []string{"k1"}}); err != nil {
		t.Fatal(err)
	}
	if g, a := inv.Generation(ctx, "a1", "k1"); g != 2 || a != 1 {
		t.Fatalf("after an account change: generations %d, %d; want 2, 1", g, a)
	}
	r.Stop()
	for _, c := range []verify.Change{{Kind: verify.KeyChange, ID: "k1", Account: "a1"}, {Kind: verify.SecretAdded, Hash: [32]byte{1}}} {
		if err := inv.Announce(ctx, c); err == nil {
			t.Errorf("announcing %c with Redis down reported success", c.Kind)
		}
	}
	if !inv.Degraded() || conn.Outages() != 1 {
		t.Errorf("degraded %v, outages %d; want yes, 1", inv.Degraded(), conn.Outages())
	}
	if g, a := inv.Generation(ctx, "a1", "k1"); g != -1 || a != -1 {
		t.Errorf("generations while down %d, %d; want -1 (no counter), so the entry is stale once Redis is back", g, a)
	}
	if err := inv.Announce(ctx, verify.Change{Kind: verify.Resubscribed}); err == nil {
		t.Error("announcing a kind no transport carries reported success")
	}
}
