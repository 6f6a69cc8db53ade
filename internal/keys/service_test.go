package keys_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
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
)

type fixture struct {
	svc *keys.Service
	db  *store.DB
	now time.Time
}

func TestMain(m *testing.M) { testenv.Main(m) }

// MustService returns a key service over a fresh SQLite database.
func MustService(tb testing.TB) *fixture {
	tb.Helper()
	return mustServiceOn(tb, "sqlite://"+filepath.Join(tb.TempDir(), "k.db"))
}

// mustServiceOn returns a key service over the fresh database at
// databaseURL, which it migrates.
func mustServiceOn(tb testing.TB, databaseURL string) *fixture {
	tb.Helper()
	db := storetest.Open(tb, databaseURL)
	cat, err := plans.New(plans.BuiltIn)
	if err != nil {
		tb.Fatal(err)
	}
	f := &fixture{db: db, now: time.Now().UTC()}
	f.svc, err = keys.NewService(keys.Config{Store: db, Plans: cat, Now: func() time.Time { return f.now }})
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// keyAudit reads a key's newest audit entries from the store, as the key
// page does (overview.KeyDetail).
func (f *fixture) keyAudit(ctx context.Context, accountID, keyID string) ([]audit.Entry, error) {
	evs, err := f.db.KeyAudit(ctx, accountID, keyID, 50)
	es := make([]audit.Entry, len(evs))
	for i, e := range evs {
		es[i] = e.Entry
	}
	return es, err
}

// lookup reads any account's key from the store.
func (f *fixture) lookup(ctx context.Context, keyID string) (*keys.Key, error) {
	ks, err := f.db.FindKeys(ctx, keys.KeyFilter{ID: keyID})
	if err != nil || len(ks) != 1 {
		return nil, fmt.Errorf("key %s: %d found, %v", keyID, len(ks), err)
	}
	return ks[0].Key, nil
}

// ownerRole is the role of a user in their personal account.
const ownerRole = string(team.Owner)

// MustAccount creates a user with their personal account, named by the
// email as sign-up names it, and returns its id, which is also the user's:
// audit.Actor{UserID: id, AccountID: id, Role: ownerRole} is its owner.
func (f *fixture) MustAccount(tb testing.TB, email string) string {
	tb.Helper()
	return mustAccount(tb, f.db, email, f.now)
}

func mustAccount(tb testing.TB, db *store.DB, email string, now time.Time) string {
	tb.Helper()
	u := &auth.User{ID: keyhold.NewID(), Email: email, PasswordHash: "x", CreatedAt: now, UpdatedAt: now}
	if err := db.CreateUser(context.Background(), u, &team.Account{ID: u.ID, Name: email, CreatedAt: now, UpdatedAt: now}, nil); err != nil {
		tb.Fatal(err)
	}
	return u.ID
}

func (f *fixture) MustKey(tb testing.TB, accountID, name string) (*keys.Key, keys.Secret) {
	tb.Helper()
	k, s, err := f.svc.Create(context.Background(), audit.Actor{UserID: accountID, AccountID: accountID, Role: ownerRole, IP: "127.0.0.1"}, accountID, keys.Settings{Name: name})
	if err != nil {
		tb.Fatal(err)
	}
	return k, s
}

func TestCreate(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	acct := f.MustAccount(t, "ada@example.com")
	exp := f.now.Add(48 * time.Hour)
	k, secret, err := f.svc.Create(ctx, audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole, IP: "10.0.0.1"}, acct, keys.Settings{
		Name: "  Production  ", Scopes: keys.ParseScopes("read, write read\nadmin:billing"),
		Meta: map[string]any{"team": "core"}, ExpiresAt: &exp,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Parse(secret.Reveal()); err != nil {
		t.Fatalf("created secret does not parse: %v", err)
	}
	if k.Name != "Production" || strings.Join(k.Scopes, ",") != "read,write,admin:billing" || k.Display != secret.Display() {
		t.Errorf("key: %+v", k)
	}
	got, err := f.svc.Get(ctx, acct, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Meta) != `{"team":"core"}` || got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) || got.Status(f.now) != keys.StatusActive {
		t.Errorf("stored key: %+v", got)
	}
	entries, _ := f.keyAudit(ctx, acct, k.ID)
	if len(entries) != 1 || entries[0].Action != audit.KeyCreated || entries[0].IP != "10.0.0.1" || entries[0].ActorID != acct {
		t.Errorf("audit: %+v", entries)
	}
	if strings.Contains(entries[0].Detail, secret.Reveal()) {
		t.Error("the audit log holds the key")
	}
}

func TestCreateRejects(t *testing.T) {
	f := MustService(t)
	acct := f.MustAccount(t, "ada@example.com")
	past := f.now.Add(-time.Minute)
	far := f.now.Add(6 * 365 * 24 * time.Hour)
	big := map[string]any{"x": strings.Repeat("y", keys.MaxMetaBytes)}
	manyScopes := make([]string, keys.MaxScopes+1)
	for i := range manyScopes {
		manyScopes[i] = fmt.Sprintf("s%d", i)
	}
	for name, st := range map[string]keys.Settings{
		"no name":          {Name: "   "},
		"long name":        {Name: strings.Repeat("n", keys.MaxNameLen+1)},
		"control in name":  {Name: "a\x00b"},
		"bad scope":        {Name: "k", Scopes: []string{"read write?"}},
		"scope with quote": {Name: "k", Scopes: []string{`"><script>`}},
		"too many scopes":  {Name: "k", Scopes: manyScopes},
		"past expiry":      {Name: "k", ExpiresAt: &past},
		"far expiry":       {Name: "k", ExpiresAt: &far},
		"big meta":         {Name: "k", Meta: big},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := f.svc.Create(context.Background(), audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}, acct, st)
			if keyhold.ErrorCode(err) != keyhold.EINVALID {
				t.Errorf("got %v, want EINVALID", err)
			}
		})
	}
	if ks, _ := f.svc.List(context.Background(), acct); len(ks) != 0 {
		t.Errorf("rejected creates left %d keys", len(ks))
	}
}

func TestParseMeta(t *testing.T) {
	for in, ok := range map[string]bool{
		``: true, `{}`: true, `{"team":"core","n":1}`: true,
		`[]`: false, `null`: false, `"x"`: false, `{"a":1}{"b":2}`: false, `{`: false,
		`{"x":"` + strings.Repeat("y", keys.MaxMetaBytes) + `"}`: false,
	} {
		_, err := keys.ParseMeta(in)
		if (err == nil) != ok {
			t.Errorf("ParseMeta(%.30q): err %v, want ok=%v", in, err, ok)
		}
	}
}

func TestPlanLimit(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	acct := f.MustAccount(t, "ada@example.com")
	var first *keys.Key
	for i := range 3 {
		k, _ := f.MustKey(t, acct, fmt.Sprintf("k%d", i))
		if first == nil {
			first = k
		}
	}
	_, _, err := f.svc.Create(ctx, audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}, acct, keys.Settings{Name: "fourth"})
	if keyhold.ErrorCode(err) != keyhold.ELIMIT || !strings.Contains(keyhold.ErrorMessage(err), "Free plan allows 3") {
		t.Fatalf("fourth key on a three-key plan: %v", err)
	}
	// A revoked key frees its place.
	if err := f.svc.Revoke(ctx, audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}, acct, first.ID); err != nil {
		t.Fatal(err)
	}
	f.MustKey(t, acct, "replacement")
}

// TestPlanLimitUnderConcurrency creates keys from many goroutines at once
// on accounts of the three-key free plan. SQLite serialises every writer,
// so it alone would pass without the account lock that CreateKey takes on
// PostgreSQL; on PostgreSQL, under READ COMMITTED, concurrent transactions
// would each count fewer than three keys and all insert. Several accounts
// give the race several chances, and a barrier releases each account's
// goroutines together.
func TestPlanLimitUnderConcurrency(t *testing.T) {
	const accounts, perAccount, maxKeys = 4, 12, 3
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			var f *fixture
			if kind == "sqlite" {
				f = MustService(t)
			} else {
				f = mustServiceOn(t, testenv.Postgres(t))
			}
			for a := range accounts {
				acct := f.MustAccount(t, fmt.Sprintf("dev%d@example.com", a))
				var wg sync.WaitGroup
				start := make(chan struct{})
				var mu sync.Mutex
				created, limited := 0, 0
				for i := range perAccount {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						_, _, err := f.svc.Create(context.Background(), audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}, acct, keys.Settings{Name: fmt.Sprint(i)})
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err == nil:
							created++
						case keyhold.ErrorCode(err) == keyhold.ELIMIT && strings.Contains(keyhold.ErrorMessage(err), "Free plan allows 3"):
							limited++
						default:
							t.Errorf("create: %v", err)
						}
					}()
				}
				close(start)
				wg.Wait()
				if created != maxKeys || limited != perAccount-maxKeys {
					t.Errorf("account %d: %d of %d concurrent creations succeeded and %d met the plan limit, want %d and %d",
						a, created, perAccount, limited, maxKeys, perAccount-maxKeys)
				}
				if ks, err := f.svc.List(context.Background(), acct); err != nil || len(ks) != maxKeys {
					t.Errorf("account %d holds %d keys (%v), want %d", a, len(ks), err, maxKeys)
				}
			}
		})
	}
}

func TestIsolation(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	ada, bob := f.MustAccount(t, "ada@example.com"), f.MustAccount(t, "bob@example.com")
	k, _ := f.MustKey(t, ada, "ada's")
	actor := audit.Actor{UserID: bob, AccountID: bob, Role: ownerRole}
	checks := map[string]error{}
	_, checks["get"] = f.svc.Get(ctx, bob, k.ID)
	_, checks["update"] = f.svc.Update(ctx, actor, bob, k.ID, keys.Settings{Name: "mine now"})
	checks["revoke"] = f.svc.Revoke(ctx, actor, bob, k.ID)
	_, _, checks["rotate"] = f.svc.Rotate(ctx, actor, bob, k.ID, 0)
	for op, err := range checks {
		if keyhold.ErrorCode(err) != keyhold.ENOTFOUND {
			t.Errorf("%s of another account's key: %v, want ENOTFOUND", op, err)
		}
	}
	if ks, _ := f.svc.List(ctx, bob); len(ks) != 0 {
		t.Errorf("bob lists ada's keys")
	}
	got, _ := f.svc.Get(ctx, ada, k.ID)
	if got.Name != "ada's" || got.RevokedAt != nil {
		t.Errorf("bob changed ada's key: %+v", got)
	}
}

func TestUpdateRevokeRotateAndEvents(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	acct := f.MustAccount(t, "ada@example.com")
	var events []keys.Event
	f.svc.Subscribe(func(e keys.Event) { events = append(events, e) })
	actor := audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole, IP: "10.1.1.1"}
	k, old := f.MustKey(t, acct, "ci")

	if _, err := f.svc.Update(ctx, actor, acct, k.ID, keys.Settings{Name: "ci-renamed"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Update(ctx, actor, acct, k.ID, keys.Settings{Name: "ci-renamed", Scopes: []string{"read"}}); err != nil {
		t.Fatal(err)
	}
	// No change: no event, no audit line.
	if _, err := f.svc.Update(ctx, actor, acct, k.ID, keys.Settings{Name: "ci-renamed", Scopes: []string{"read"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Rotate(ctx, actor, acct, k.ID, 90*time.Minute); keyhold.ErrorCode(err) != keyhold.EINVALID {
		t.Errorf("odd grace period: %v", err)
	}
	rotated, fresh, err := f.svc.Rotate(ctx, actor, acct, k.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.ID != k.ID || fresh == old || rotated.Display != fresh.Display() {
		t.Errorf("rotation: same id %v, new secret %v", rotated.ID == k.ID, fresh != old)
	}
	if err := f.svc.Revoke(ctx, actor, acct, k.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Revoke(ctx, actor, acct, k.ID); keyhold.ErrorCode(err) != keyhold.EINVALID {
		t.Errorf("second revoke: %v", err)
	}
	if _, err := f.svc.Update(ctx, actor, acct, k.ID, keys.Settings{Name: "x"}); keyhold.ErrorCode(err) != keyhold.EINVALID {
		t.Errorf("edit of a revoked key: %v", err)
	}
	if _, _, err := f.svc.Rotate(ctx, actor, acct, k.ID, 0); keyhold.ErrorCode(err) != keyhold.EINVALID {
		t.Errorf("rotation of a revoked key: %v", err)
	}
	got, _ := f.svc.Get(ctx, acct, k.ID)
	if got.Status(f.now) != keys.StatusRevoked {
		t.Errorf("status %s", got.Status(f.now))
	}

	wantKinds := []keys.EventKind{keys.KeyCreated, keys.KeyChanged, keys.KeyChanged, keys.KeyRotated, keys.KeyRevoked}
	if len(events) != len(wantKinds) {
		t.Fatalf("events: %+v", events)
	}
	for i, e := range events {
		if e.Kind != wantKinds[i] || e.KeyID != k.ID || e.AccountID != acct {
			t.Errorf("event %d: %+v", i, e)
		}
	}
	entries, _ := f.keyAudit(ctx, acct, k.ID)
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
		if e.Action != audit.KeyCreated && e.IP != "10.1.1.1" {
			t.Errorf("audit without address: %+v", e)
		}
	}
	want := "key.revoked key.rotated key.edited key.renamed key.created"
	if strings.Join(actions, " ") != want {
		t.Errorf("audit actions %q, want %q", strings.Join(actions, " "), want)
	}
}

func TestExpiredKeyStatus(t *testing.T) {
	f := MustService(t)
	acct := f.MustAccount(t, "ada@example.com")
	exp := f.now.Add(time.Hour)
	k, _, err := f.svc.Create(context.Background(), audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}, acct, keys.Settings{Name: "short", ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	if k.Status(f.now.Add(2*time.Hour)) != keys.StatusExpired {
		t.Errorf("status after expiry: %s", k.Status(f.now.Add(2*time.Hour)))
	}
}

// The verifier's filter of known secrets learns new secrets from events,
// before the key is handed out: creation and rotation carry the hash.
func TestCreateAndRotateAnnounceTheSecretHash(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	acct := f.MustAccount(t, "ada@example.com")
	var events []keys.Event
	f.svc.Subscribe(func(e keys.Event) { events = append(events, e) })
	k, first := f.MustKey(t, acct, "ci")
	if len(events) != 1 {
		t.Fatalf("events after create: %+v", events)
	}
	if e := events[0]; e.Kind != keys.KeyCreated || e.KeyID != k.ID || e.AccountID != acct || e.SecretHash != first.Hash() {
		t.Errorf("create event %+v", e)
	}
	_, second, err := f.svc.Rotate(ctx, audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}, acct, k.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if e := events[len(events)-1]; e.Kind != keys.KeyRotated || e.SecretHash != second.Hash() {
		t.Errorf("rotate event %+v", e)
	}
	if err := f.svc.Revoke(ctx, audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}, acct, k.ID); err != nil {
		t.Fatal(err)
	}
	if e := events[len(events)-1]; e.Kind != keys.KeyRevoked || e.SecretHash != ([32]byte{}) {
		t.Errorf("revoke event %+v", e)
	}
}
