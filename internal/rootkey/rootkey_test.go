package rootkey_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/rootkey"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/store/storetest"
	"github.com/keyhold/keyhold/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// clock is a settable time for the service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	svc   *rootkey.Service
	db    *store.DB
	clock *clock
}

func forEachDB(t *testing.T, fn func(t *testing.T, f fixture)) {
	for _, kind := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(kind, func(t *testing.T) {
			db := storetest.New(t, kind)
			c := &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
			svc, err := rootkey.NewService(rootkey.Config{Store: db, Now: c.now})
			if err != nil {
				t.Fatal(err)
			}
			fn(t, fixture{svc: svc, db: db, clock: c})
		})
	}
}

var ops = audit.Actor{UserID: "01ops", IP: "192.0.2.1"}

func TestNewServiceNeedsStore(t *testing.T) {
	if _, err := rootkey.NewService(rootkey.Config{}); err == nil {
		t.Fatal("NewService without a store succeeded")
	}
}

// TestCreateRefuses: every bad name and permission list is EINVALID on
// its field, says what is wrong (naming an unknown permission), and
// stores nothing.
func TestCreateRefuses(t *testing.T) {
	forEachDB(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		tests := []struct {
			name, keyName string
			perms         []string
			field, says   string
		}{
			{"empty name", "  ", []string{rootkey.KeysRead}, "name", "Give the root key a name"},
			{"long name", strings.Repeat("é", rootkey.MaxNameLen+1), []string{rootkey.KeysRead}, "name", "at most 64"},
			{"invisible character", "prod\u202etxt", []string{rootkey.KeysRead}, "name", "U+202E"},
			{"bad UTF-8", "prod\xff", []string{rootkey.KeysRead}, "name", "The root key name"},
			{"no permission", "prod", nil, "permissions", "at least one permission"},
			{"unknown permission", "prod", []string{rootkey.KeysRead, "keys.delete"}, "permissions", `"keys.delete"`},
			{"case matters", "prod", []string{"Keys.Read"}, "permissions", `"Keys.Read"`},
		}
		for _, tt := range tests {
			k, s, err := f.svc.Create(ctx, ops, tt.keyName, tt.perms)
			var e *keyhold.Error
			if k != nil || s != "" || keyhold.ErrorCode(err) != keyhold.EINVALID {
				t.Errorf("%s: %v, %v, want EINVALID", tt.name, k, err)
				continue
			}
			e, _ = err.(*keyhold.Error)
			if !e.Fields.Has(tt.field) || !strings.Contains(keyhold.ErrorMessage(err), tt.says) {
				t.Errorf("%s: fields %+v, message %q; want %s saying %q", tt.name, e.Fields, keyhold.ErrorMessage(err), tt.field, tt.says)
			}
		}
		_, _, err := f.svc.Create(ctx, ops, "", nil)
		if e, _ := err.(*keyhold.Error); e == nil || !e.Fields.Has("name") || !e.Fields.Has("permissions") {
			t.Errorf("both wrong: %v, want both fields", err)
		}
		if ks, err := f.svc.List(ctx); err != nil || len(ks) != 0 {
			t.Errorf("after refusals: %d keys, %v", len(ks), err)
		}
	})
}

// TestCreateListRevoke: a key is made with its permissions deduplicated in
// their canonical order, its secret parses as a root key (and not as an API
// key), it is listed newest first, revoked once (a second revoke and an
// unknown id are refused), and each change is audited with the actor.
func TestCreateListRevoke(t *testing.T) {
	forEachDB(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		k, secret, err := f.svc.Create(ctx, ops, "  Provisioning  ", []string{rootkey.KeysWrite, rootkey.AccountsRead, rootkey.KeysWrite})
		if err != nil {
			t.Fatal(err)
		}
		if k.Name != "Provisioning" || strings.Join(k.Permissions, ",") != "accounts.read,keys.write" || k.CreatedBy != ops.UserID {
			t.Errorf("created %+v", k)
		}
		if _, err := keys.Root.Parse(secret.Reveal()); err != nil {
			t.Errorf("the secret is not a root key: %v", err)
		}
		if _, err := keys.Parse(secret.Reveal()); err == nil {
			t.Error("the secret parses as an API key")
		}
		if k.Display != secret.Display() || !strings.HasPrefix(k.Display, "kh_root_…") {
			t.Errorf("display %q", k.Display)
		}
		if !k.Has(rootkey.KeysWrite) || k.Has(rootkey.KeysRead) {
			t.Errorf("Has: %v", k.Permissions)
		}
		f.clock.add(time.Second)
		k2, _, err := f.svc.Create(ctx, audit.Actor{}, "CLI", []string{rootkey.AuditRead})
		if err != nil {
			t.Fatal(err)
		}
		ks, err := f.svc.List(ctx)
		if err != nil || len(ks) != 2 || ks[0].ID != k2.ID || ks[1].ID != k.ID {
			t.Fatalf("List = %+v, %v", ks, err)
		}

		if _, err := f.svc.Revoke(ctx, ops, "no-such-id"); keyhold.ErrorCode(err) != keyhold.ENOTFOUND {
			t.Errorf("revoke unknown: %v, want ENOTFOUND", err)
		}
		if got, err := f.svc.Revoke(ctx, ops, k.ID); err != nil || got.ID != k.ID {
			t.Fatalf("revoke: %+v, %v", got, err)
		}
		got, err := f.svc.Revoke(ctx, ops, k.ID)
		if keyhold.ErrorCode(err) != keyhold.EINVALID || got == nil || got.RevokedAt == nil {
			t.Errorf("second revoke: %+v, %v; want EINVALID with the key", got, err)
		}
		rs, err := f.db.AuditLog(ctx, auth.AuditQuery{Action: "root_key.", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{audit.RootKeyCreated: 2, audit.RootKeyRevoked: 1}
		for _, r := range rs {
			want[r.Action]--
			if r.TargetType != audit.TargetRootKey || strings.Contains(r.Detail, secret.Reveal()) {
				t.Errorf("entry %+v", r.Entry)
			}
			if r.TargetID == k.ID && (r.ActorID != ops.UserID || r.IP != ops.IP) {
				t.Errorf("entry about the operator's key has actor %q from %q", r.ActorID, r.IP)
			}
		}
		for a, n := range want {
			if n != 0 {
				t.Errorf("%s: %d entries off", a, n)
			}
		}
	})
}

// TestAuthenticate: only an active root key's secret authenticates;
// malformed input and API keys are refused without a statement, unknown
// and revoked keys after one lookup, all with the same EUNAUTHORIZED.
func TestAuthenticate(t *testing.T) {
	forEachDB(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		k, secret, err := f.svc.Create(ctx, ops, "api", []string{rootkey.KeysRead})
		if err != nil {
			t.Fatal(err)
		}
		_, revoked, _ := f.svc.Create(ctx, ops, "old", []string{rootkey.KeysRead})
		rk, _ := f.svc.List(ctx)
		if _, err := f.svc.Revoke(ctx, ops, rk[0].ID); err != nil {
			t.Fatal(err)
		}
		live, _ := keys.Generate()
		unknown, _ := keys.Root.Generate()
		s := secret.Reveal()
		tests := []struct {
			name, presented string
			statements      int64
		}{
			{"empty", "", 0},
			{"an API key", live.Reveal(), 0},
			{"a root key's body under the API prefix", keys.Prefix + s[len(keys.RootPrefix):], 0},
			{"bad checksum", s[:len(s)-1] + string("01"[boolInt(s[len(s)-1] == '0')]), 0},
			{"cut short", s[:len(s)-1], 0},
			{"with a space", " " + s, 0},
			{"bearer prefix left on", "Bearer " + s, 0},
			{"unknown", unknown.Reveal(), 1},
			{"revoked", revoked.Reveal(), 1},
		}
		for _, tt := range tests {
			cctx, n := f.db.CountStatements(ctx)
			got, err := f.svc.Authenticate(cctx, tt.presented)
			if got != nil || err != rootkey.ErrUnauthorized {
				t.Errorf("%s: %+v, %v; want ErrUnauthorized", tt.name, got, err)
			}
			if n() != tt.statements {
				t.Errorf("%s: %d statements, want %d", tt.name, n(), tt.statements)
			}
		}
		got, err := f.svc.Authenticate(ctx, s)
		if err != nil || got.ID != k.ID || !got.Has(rootkey.KeysRead) {
			t.Fatalf("Authenticate = %+v, %v", got, err)
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestAuthenticateLastUse: the first use writes last_used_at; further
// uses within a minute read only (one statement each), and the first use
// after it writes again.
func TestAuthenticateLastUse(t *testing.T) {
	forEachDB(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		k, secret, err := f.svc.Create(ctx, ops, "api", []string{rootkey.UsageRead})
		if err != nil {
			t.Fatal(err)
		}
		t0 := f.clock.now()
		steps := []struct {
			after      time.Duration
			statements int64
			lastUse    time.Duration // since t0
		}{
			{0, 2, 0},                // never used: read and write
			{10 * time.Second, 1, 0}, // read only
			{49 * time.Second, 1, 0}, // 59 s after the write: read only
			{time.Second, 1, 0},      // exactly a minute: not older, read only
			{time.Second, 2, 61 * time.Second},
			{30 * time.Second, 1, 61 * time.Second},
		}
		for i, st := range steps {
			f.clock.add(st.after)
			cctx, n := f.db.CountStatements(ctx)
			got, err := f.svc.Authenticate(cctx, secret.Reveal())
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if n() != st.statements {
				t.Errorf("step %d: %d statements, want %d", i, n(), st.statements)
			}
			want := t0.Add(st.lastUse)
			if got.LastUsedAt == nil || !got.LastUsedAt.Equal(want) {
				t.Errorf("step %d: answered last use %v, want %v", i, got.LastUsedAt, want)
			}
			stored, _ := f.db.RootKey(ctx, k.ID)
			if stored.LastUsedAt == nil || !stored.LastUsedAt.Equal(want) {
				t.Errorf("step %d: stored last use %v, want %v", i, stored.LastUsedAt, want)
			}
		}
	})
}

// TestAuthenticateBurst: concurrent first uses of one key write its last
// use once between them (the UPDATE is conditional), whatever their
// interleaving.
func TestAuthenticateBurst(t *testing.T) {
	forEachDB(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		_, secret, err := f.svc.Create(ctx, ops, "api", []string{rootkey.UsageRead})
		if err != nil {
			t.Fatal(err)
		}
		cctx, n := f.db.CountStatements(ctx)
		const calls = 8
		var wg sync.WaitGroup
		errs := make(chan error, calls)
		for range calls {
			wg.Go(func() {
				_, err := f.svc.Authenticate(cctx, secret.Reveal())
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		// Each call reads once; those that saw no last use try the
		// conditional write, but it changes the row once. At most calls
		// writes are attempted, at least one; the reads are exact.
		if got := n(); got < calls+1 || got > 2*calls {
			t.Errorf("%d statements for %d calls", got, calls)
		}
	})
}

// TestAuthenticateUnavailable: a database that cannot be read answers
// EUNAVAILABLE, not a refusal the caller would take as a bad key.
func TestAuthenticateUnavailable(t *testing.T) {
	db := storetest.New(t, storetest.SQLite)
	svc, _ := rootkey.NewService(rootkey.Config{Store: db})
	_, secret, err := svc.Create(context.Background(), ops, "api", []string{rootkey.KeysRead})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := svc.Authenticate(context.Background(), secret.Reveal()); keyhold.ErrorCode(err) != keyhold.EUNAVAILABLE {
		t.Errorf("closed database: %v, want EUNAVAILABLE", err)
	}
	if strings.Contains(keyhold.ErrorMessage(err), secret.Reveal()) {
		t.Error("the error carries the key")
	}
	ctx := context.Background()
	if _, _, err := svc.Create(ctx, ops, "api", []string{rootkey.KeysRead}); keyhold.ErrorCode(err) != keyhold.EINTERNAL {
		t.Errorf("create on a closed database: %v", err)
	}
	if _, err := svc.List(ctx); keyhold.ErrorCode(err) != keyhold.EINTERNAL {
		t.Errorf("list on a closed database: %v", err)
	}
	if _, err := svc.Revoke(ctx, ops, "x"); keyhold.ErrorCode(err) != keyhold.EINTERNAL {
		t.Errorf("revoke on a closed database: %v", err)
	}
}

// TestCheckPermissions: every permission of DESIGN.md is known, in its
// order.
func TestCheckPermissions(t *testing.T) {
	want := "accounts.read accounts.write keys.read keys.write usage.read audit.read webhooks.write"
	if got := strings.Join(rootkey.Permissions, " "); got != want {
		t.Errorf("Permissions = %s", got)
	}
	got, err := rootkey.CheckPermissions([]string{rootkey.WebhooksWrite, rootkey.AccountsRead, rootkey.WebhooksWrite})
	if err != nil || strings.Join(got, " ") != "accounts.read webhooks.write" {
		t.Errorf("CheckPermissions = %v, %v", got, err)
	}
}
