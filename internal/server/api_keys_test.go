package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/server"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/team"
	"github.com/keyhold/keyhold/internal/verify"
)

// apiKey is the management API's Key, with the secret of create and
// rotate.
type apiKey struct {
	ID                 string                     `json:"id"`
	Object             string                     `json:"object"`
	AccountID          string                     `json:"account_id"`
	Name               string                     `json:"name"`
	Display            string                     `json:"display"`
	Status             string                     `json:"status"`
	Scopes             []string                   `json:"scopes"`
	Meta               map[string]any             `json:"meta"`
	ExpiresAt          *time.Time                 `json:"expires_at"`
	RevokedAt          *time.Time                 `json:"revoked_at"`
	OldSecretExpiresAt *time.Time                 `json:"old_secret_expires_at"`
	RateLimit          *struct{ Rate, Burst int } `json:"ratelimit"`
	Quota              *struct{ Limit int64 }     `json:"quota"`
	IPAllowlist        []string                   `json:"ip_allowlist"`
	Secret             string                     `json:"secret"`
}

type apiKeyList struct {
	Object  string   `json:"object"`
	Data    []apiKey `json:"data"`
	HasMore bool     `json:"has_more"`
}

func decode[T any](t testing.TB, c apiCall, status int) T {
	t.Helper()
	if c.Status != status {
		t.Fatalf("status %d, want %d: %s", c.Status, status, c.Body)
	}
	var v T
	if err := json.Unmarshal(c.Body, &v); err != nil {
		t.Fatalf("%s: %v", c.Body, err)
	}
	return v
}

// apiAccount signs email up in the portal and returns its account's id.
func apiAccount(t testing.TB, h *harness, email string) string {
	t.Helper()
	h.Browser().MustSignup(email)
	u, err := h.DB.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// withMaxKeys gives the free plan room for n live keys, for tests that
// make many.
func withMaxKeys(tb testing.TB, n int) option {
	return func(c *server.Config, db *store.DB) {
		ps := append([]plans.Plan(nil), plans.BuiltIn...)
		ps[0].MaxKeys = n
		cat, err := plans.New(ps)
		if err != nil {
			tb.Fatal(err)
		}
		ks, err := keys.NewService(keys.Config{Store: db, Plans: cat})
		if err != nil {
			tb.Fatal(err)
		}
		v := c.Verifier
		ks.Subscribe(func(e keys.Event) { v.InvalidateKey(e.KeyID) })
		c.Keys, c.Plans = ks, cat
	}
}

// onBoth runs test on a server over SQLite and over PostgreSQL.
func onBoth(t *testing.T, test func(t *testing.T, h *harness), opts ...option) {
	t.Run("SQLite", func(t *testing.T) { test(t, MustServer(t, opts...)) })
	t.Run("PostgreSQL", func(t *testing.T) { test(t, MustServerOnPostgres(t, opts...)) })
}

// TestAPIKeyLifecycle: create with every setting, verify, get, patch,
// rotate with and without grace, revoke twice, and the audit trail.
func TestAPIKeyLifecycle(t *testing.T) { onBoth(t, testAPIKeyLifecycle) }

func testAPIKeyLifecycle(t *testing.T, h *harness) {
	root := h.mustRootKey("keys.write", "keys.read", "audit.read")
	acct := apiAccount(t, h, "ada@example.com")

	exp := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	c := h.call("POST", "/v1/accounts/"+acct+"/keys", root, map[string]any{"name": "ci", "scopes": []string{"read", "write"},
		"meta": map[string]any{"team": "core", "n": 3}, "expires_at": exp, "ratelimit": map[string]int{"rate": 5, "burst": 7},
		"quota": map[string]int{"limit": 500}})
	k := decode[apiKey](t, c, 201)
	if k.Object != "key" || k.AccountID != acct || k.Name != "ci" || k.Status != "active" || strings.Join(k.Scopes, ",") != "read,write" ||
		k.Meta["team"] != "core" || k.ExpiresAt == nil || !k.ExpiresAt.Equal(exp) || k.RateLimit == nil || k.RateLimit.Rate != 5 ||
		k.RateLimit.Burst != 7 || k.Quota == nil || k.Quota.Limit != 500 || !strings.HasPrefix(k.Secret, keys.Prefix) ||
		!strings.HasSuffix(k.Secret, k.Display[len(k.Display)-4:]) {
		t.Fatalf("created %s", c.Body)
	}
	if strings.Contains(h.log.String(), k.Secret) {
		t.Error("the secret is in the log")
	}

	// It verifies, with its overrides.
	_, a := h.postVerify(t, verifyJSON(k.Secret, `,"scopes":["read"]`), nil)
	if !a.Valid || a.KeyID != k.ID || a.RateLimit == nil || a.RateLimit.Limit != 7 || a.Quota == nil || a.Quota.Limit != 500 {
		t.Fatalf("verify: %s", a.Raw)
	}

	got := decode[apiKey](t, h.call("GET", "/v1/keys/"+k.ID, root, nil), 200)
	if got.ID != k.ID || got.Secret != "" || got.RateLimit == nil || got.RateLimit.Burst != 7 {
		t.Errorf("get: %+v", got)
	}
	if strings.Contains(string(h.call("GET", "/v1/keys/"+k.ID, root, nil).Body), `"secret"`) {
		t.Error("a read shows a secret field")
	}

	// PATCH changes what it is given and keeps the rest.
	c = h.call("PATCH", "/v1/keys/"+k.ID, root, map[string]any{"name": "ci-2", "quota": map[string]int{"limit": 900}})
	up := decode[apiKey](t, c, 200)
	if up.Name != "ci-2" || strings.Join(up.Scopes, ",") != "read,write" || up.Meta["team"] != "core" || up.ExpiresAt == nil ||
		up.Quota == nil || up.Quota.Limit != 900 || up.RateLimit == nil || up.RateLimit.Rate != 5 {
		t.Fatalf("patched %s", c.Body)
	}
	c = h.call("PATCH", "/v1/keys/"+k.ID, root, map[string]any{"scopes": []string{}, "meta": map[string]any{}})
	up = decode[apiKey](t, c, 200)
	if len(up.Scopes) != 0 || len(up.Meta) != 0 || up.Name != "ci-2" {
		t.Fatalf("cleared %s", c.Body)
	}

	// Rotate with a grace period: both secrets work.
	c = h.call("POST", "/v1/keys/"+k.ID+"/rotate", root, map[string]any{"grace_seconds": 3600})
	rot := decode[apiKey](t, c, 200)
	if rot.Secret == "" || rot.Secret == k.Secret || rot.OldSecretExpiresAt == nil || time.Until(*rot.OldSecretExpiresAt) < 59*time.Minute {
		t.Fatalf("rotated %s", c.Body)
	}
	for _, s := range []string{k.Secret, rot.Secret} {
		if _, a := h.postVerify(t, verifyJSON(s, ""), nil); !a.Valid {
			t.Errorf("after rotation: %s", a.Raw)
		}
	}
	// Without a body: the old secret stops at once.
	c = h.call("POST", "/v1/keys/"+k.ID+"/rotate", root, nil)
	rot2 := decode[apiKey](t, c, 200)
	if rot2.OldSecretExpiresAt != nil {
		t.Errorf("grace 0 leaves %v", rot2.OldSecretExpiresAt)
	}
	if _, a := h.postVerify(t, verifyJSON(rot.Secret, ""), nil); a.Valid {
		t.Errorf("the rotated-away secret: %s", a.Raw)
	}

	// Revoke, twice: the second changes nothing.
	rev := decode[apiKey](t, h.call("POST", "/v1/keys/"+k.ID+"/revoke", root, nil), 200)
	if rev.Status != "revoked" || rev.RevokedAt == nil {
		t.Fatalf("revoked %+v", rev)
	}
	again := decode[apiKey](t, h.call("POST", "/v1/keys/"+k.ID+"/revoke", root, nil), 200)
	if again.RevokedAt == nil || !again.RevokedAt.Equal(*rev.RevokedAt) {
		t.Errorf("revoked again: %+v", again)
	}
	if _, a := h.postVerify(t, verifyJSON(rot2.Secret, ""), nil); a.Code != "REVOKED" {
		t.Errorf("after revoke: %s", a.Raw)
	}
	// A revoked key cannot be edited or rotated.
	if c := h.call("PATCH", "/v1/keys/"+k.ID, root, map[string]any{"name": "x"}); c.Status != 422 {
		t.Errorf("patch revoked: %d %s", c.Status, c.Body)
	}
	if c := h.call("POST", "/v1/keys/"+k.ID+"/rotate", root, nil); c.Status != 422 {
		t.Errorf("rotate revoked: %d %s", c.Status, c.Body)
	}

	// Every change is audited with the root key as actor.
	entries := decode[struct {
		Data []struct {
			Action string
			Actor  struct{ Type, ID string }
		}
	}](t, h.call("GET", "/v1/audit?account_id="+acct+"&action=key.", root, nil), 200)
	var actions []string
	for _, e := range entries.Data {
		actions = append(actions, e.Action)
		if e.Actor.Type != "root_key" || e.Actor.ID == "" {
			t.Errorf("%s by %+v", e.Action, e.Actor)
		}
	}
	want := "key.revoked key.rotated key.rotated key.edited key.overrides_changed key.renamed key.created"
	if strings.Join(actions, " ") != want {
		t.Errorf("audit %q, want %q", strings.Join(actions, " "), want)
	}
}

// TestAPIKeyRefusals: each operation without its permission, unknown ids
// and accounts, a suspended account, the plan's limit and bad input.
func TestAPIKeyRefusals(t *testing.T) {
	h := MustServer(t)
	write := h.mustRootKey("keys.write", "keys.read")
	read := h.mustRootKey("keys.read", "usage.read")
	writeOnly := h.mustRootKey("keys.write")
	acct := apiAccount(t, h, "ada@example.com")
	k := decode[apiKey](t, h.call("POST", "/v1/accounts/"+acct+"/keys", write, map[string]any{"name": "a"}), 201)

	for _, tc := range []struct{ method, path, key string }{
		{"POST", "/v1/accounts/" + acct + "/keys", read},
		{"PATCH", "/v1/keys/" + k.ID, read},
		{"POST", "/v1/keys/" + k.ID + "/revoke", read},
		{"POST", "/v1/keys/" + k.ID + "/rotate", read},
		{"GET", "/v1/keys", writeOnly},
		{"GET", "/v1/keys/" + k.ID, writeOnly},
		{"GET", "/v1/keys/" + k.ID + "/usage", write},
		{"GET", "/v1/accounts/" + acct + "/usage", write},
	} {
		body := any(nil)
		if tc.method != "GET" {
			body = map[string]any{"name": "b"}
		}
		if c := h.call(tc.method, tc.path, tc.key, body); c.Status != 403 || !strings.Contains(c.problem(t).Detail, "lacks the permission") {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, c.Status, c.Body)
		}
	}

	for _, tc := range []struct{ method, path string }{
		{"GET", "/v1/keys/nope"},
		{"PATCH", "/v1/keys/nope"},
		{"POST", "/v1/keys/nope/revoke"},
		{"POST", "/v1/keys/nope/rotate"},
		{"POST", "/v1/accounts/nope/keys"},
	} {
		var body any
		if tc.method == "PATCH" || strings.HasSuffix(tc.path, "/keys") {
			body = map[string]any{"name": "b"}
		}
		if c := h.call(tc.method, tc.path, write, body); c.Status != 404 {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, c.Status, c.Body)
		}
	}

	for _, tc := range []struct {
		name, method, path string
		body               any
		location, message  string
	}{
		{"bad scope", "POST", "/v1/accounts/" + acct + "/keys", map[string]any{"name": "b", "scopes": []string{"read <b>"}}, "body.scopes", "not valid"},
		{"meta not an object", "POST", "/v1/accounts/" + acct + "/keys", `{"name":"b","meta":[1,2]}`, "body.meta", ""},
		{"expires_at in the past", "POST", "/v1/accounts/" + acct + "/keys", map[string]any{"name": "b", "expires_at": "2001-01-01T00:00:00Z"}, "body.expires_at", "future"},
		{"unknown field", "POST", "/v1/accounts/" + acct + "/keys", map[string]any{"name": "b", "colour": "red"}, "body.colour", ""},
		{"ip_allowlist not a CIDR", "POST", "/v1/accounts/" + acct + "/keys", map[string]any{"name": "b", "ip_allowlist": []string{"10.0.0.0/8", "10.0.0.0/33"}}, "body.ip_allowlist", `"10.0.0.0/33" is not a CIDR`},
		{"ip_allowlist host bits", "PATCH", "/v1/keys/" + k.ID, map[string]any{"ip_allowlist": []string{"10.1.2.3/8"}}, "body.ip_allowlist", "did you mean 10.0.0.0/8"},
		{"ip_allowlist 33 entries", "POST", "/v1/accounts/" + acct + "/keys", map[string]any{"name": "b", "ip_allowlist": cidrs(33)}, "body.ip_allowlist", ""},
		{"ip_allowlist 33 entries, PATCH", "PATCH", "/v1/keys/" + k.ID, map[string]any{"ip_allowlist": cidrs(33)}, "body.ip_allowlist", ""},
		{"rate 0", "POST", "/v1/accounts/" + acct + "/keys", map[string]any{"name": "b", "ratelimit": map[string]int{"rate": 0, "burst": 5}}, "body.ratelimit.rate", "from 1"},
		{"burst under rate", "PATCH", "/v1/keys/" + k.ID, map[string]any{"ratelimit": map[string]int{"rate": 9, "burst": 5}}, "body.ratelimit.burst", "at least"},
		{"quota 0", "PATCH", "/v1/keys/" + k.ID, map[string]any{"quota": map[string]int{"limit": 0}}, "body.quota.limit", ""},
		{"no name", "PATCH", "/v1/keys/" + k.ID, map[string]any{"name": " "}, "body.name", "name"},
		{"grace_seconds 5", "POST", "/v1/keys/" + k.ID + "/rotate", map[string]any{"grace_seconds": 5}, "body.grace_seconds", ""},
		{"limit 101", "GET", "/v1/keys?limit=101", nil, "query.limit", ""},
		{"bad status", "GET", "/v1/keys?status=lost", nil, "query.status", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := h.call(tc.method, tc.path, write, tc.body)
			if c.Status != 422 {
				t.Fatalf("%d %s", c.Status, c.Body)
			}
			p := c.problem(t)
			var found bool
			for _, e := range p.Errors {
				found = found || (e.Location == tc.location && strings.Contains(e.Message, tc.message))
			}
			if !found {
				t.Errorf("no error at %s saying %q: %s", tc.location, tc.message, c.Body)
			}
		})
	}
	// Every problem of a PATCH at once, and nothing changed.
	c := h.call("PATCH", "/v1/keys/"+k.ID, write, map[string]any{"name": " ", "scopes": []string{"a b"}, "expires_at": "2001-01-01T00:00:00Z",
		"ratelimit": map[string]int{"rate": 0, "burst": 1}})
	if p := c.problem(t); c.Status != 422 || len(p.Errors) != 5 { // name, scopes, expires_at, rate, burst
		t.Errorf("all at once: %d %s", c.Status, c.Body)
	}
	if got := decode[apiKey](t, h.call("GET", "/v1/keys/"+k.ID, write, nil), 200); got.Name != "a" || got.RateLimit != nil || len(got.Scopes) != 0 {
		t.Errorf("a refused PATCH changed %+v", got)
	}

	// The free plan's limit of 3 live keys: 409 with the service's message.
	for range 2 {
		decode[apiKey](t, h.call("POST", "/v1/accounts/"+acct+"/keys", write, map[string]any{"name": "more"}), 201)
	}
	c = h.call("POST", "/v1/accounts/"+acct+"/keys", write, map[string]any{"name": "one too many"})
	if c.Status != 409 || !strings.Contains(c.problem(t).Detail, "Free plan allows 3 active keys") {
		t.Errorf("over the limit: %d %s", c.Status, c.Body)
	}

	// An expired key can be renamed; it stays expired, and lists as such.
	h.exec("UPDATE api_keys SET expires_at = ? WHERE id = ?", time.Now().Add(-time.Hour).UTC(), k.ID)
	if up := decode[apiKey](t, h.call("PATCH", "/v1/keys/"+k.ID, write, map[string]any{"name": "old"}), 200); up.Name != "old" || up.Status != "expired" {
		t.Errorf("renamed expired key: %+v", up)
	}
	if l := decode[apiKeyList](t, h.call("GET", "/v1/keys?status=expired", write, nil), 200); len(l.Data) != 1 || l.Data[0].ID != k.ID {
		t.Errorf("expired: %+v", l.Data)
	}

	// A suspended account gets no new key.
	other := apiAccount(t, h, "bob@example.com")
	h.exec("UPDATE accounts SET suspended = ? WHERE id = ?", true, other)
	c = h.call("POST", "/v1/accounts/"+other+"/keys", write, map[string]any{"name": "x"})
	if c.Status != 409 || !strings.Contains(c.problem(t).Detail, "suspended") {
		t.Errorf("suspended: %d %s", c.Status, c.Body)
	}
	if l := decode[apiKeyList](t, h.call("GET", "/v1/keys?account_id="+other, write, nil), 200); len(l.Data) != 0 {
		t.Errorf("a suspended account got %d keys", len(l.Data))
	}
}

// TestAPIKeyCreateIdempotent: a retry with the same Idempotency-Key gets
// the same key and secret, and makes no second key; the same key with
// another body is 422.
func TestAPIKeyCreateIdempotent(t *testing.T) {
	h := MustServer(t)
	root := h.mustRootKey("keys.write", "keys.read")
	acct := apiAccount(t, h, "ada@example.com")
	body := map[string]any{"name": "once"}
	first := h.call("POST", "/v1/accounts/"+acct+"/keys", root, body, "Idempotency-Key: k-1")
	k1 := decode[apiKey](t, first, 201)
	second := h.call("POST", "/v1/accounts/"+acct+"/keys", root, body, "Idempotency-Key: k-1")
	k2 := decode[apiKey](t, second, 201)
	if k1.Secret == "" || k1.Secret != k2.Secret || k1.ID != k2.ID || second.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %s then %s", first.Body, second.Body)
	}
	if l := decode[apiKeyList](t, h.call("GET", "/v1/keys?account_id="+acct, root, nil), 200); len(l.Data) != 1 {
		t.Errorf("%d keys made", len(l.Data))
	}
	c := h.call("POST", "/v1/accounts/"+acct+"/keys", root, map[string]any{"name": "twice"}, "Idempotency-Key: k-1")
	if c.Status != 422 {
		t.Errorf("conflicting replay: %d %s", c.Status, c.Body)
	}
}

// TestAPIKeyListPages pages through 250 keys while more are made: every
// key that existed when paging began is seen exactly once, newest first,
// and the filters hold.
func TestAPIKeyListPages(t *testing.T) {
	onBoth(t, testAPIKeyListPages, withMaxKeys(t, 1000), withAPIRate(100000, 100000))
}

func testAPIKeyListPages(t *testing.T, h *harness) {
	root := h.mustRootKey("keys.write", "keys.read")
	acct := apiAccount(t, h, "ada@example.com")
	other := apiAccount(t, h, "bob@example.com")
	before := map[string]bool{}
	for i := range 250 {
		k := decode[apiKey](t, h.call("POST", "/v1/accounts/"+acct+"/keys", root, map[string]any{"name": fmt.Sprint("k", i)}), 201)
		before[k.ID] = true
	}
	decode[apiKey](t, h.call("POST", "/v1/accounts/"+other+"/keys", root, map[string]any{"name": "bob's"}), 201)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // more keys, made while the pages are read
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := h.Keys.Create(context.Background(), keysOwner(acct), acct, keys.Settings{Name: fmt.Sprint("new", i)}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	seen := map[string]bool{}
	var last string
	pages := 0
	for after := ""; ; pages++ {
		l := decode[apiKeyList](t, h.call("GET", "/v1/keys?account_id="+acct+"&limit=37&starting_after="+after, root, nil), 200)
		for _, k := range l.Data {
			if seen[k.ID] {
				t.Fatalf("%s twice", k.ID)
			}
			if last != "" && k.ID >= last {
				t.Fatalf("%s after %s: not newest first", k.ID, last)
			}
			if k.AccountID != acct {
				t.Fatalf("another account's key %s", k.ID)
			}
			seen[k.ID], last = true, k.ID
		}
		if !l.HasMore {
			break
		}
		after = l.Data[len(l.Data)-1].ID
	}
	close(stop)
	wg.Wait()
	for id := range before {
		if !seen[id] {
			t.Errorf("%s missing", id)
		}
	}
	if pages < 250/37 {
		t.Errorf("%d pages", pages)
	}
	// Every account's keys without account_id; status filters.
	all := decode[apiKeyList](t, h.call("GET", "/v1/keys?limit=100", root, nil), 200)
	if !all.HasMore || len(all.Data) != 100 {
		t.Errorf("all: %d, more %v", len(all.Data), all.HasMore)
	}
	k := decode[apiKey](t, h.call("POST", "/v1/keys/"+last+"/revoke", root, nil), 200)
	revoked := decode[apiKeyList](t, h.call("GET", "/v1/keys?status=revoked", root, nil), 200)
	if len(revoked.Data) != 1 || revoked.Data[0].ID != k.ID {
		t.Errorf("revoked: %+v", revoked.Data)
	}
	if l := decode[apiKeyList](t, h.call("GET", "/v1/keys?status=expired", root, nil), 200); len(l.Data) != 0 {
		t.Errorf("expired: %+v", l.Data)
	}
	bobs := decode[apiKeyList](t, h.call("GET", "/v1/keys?account_id="+other+"&status=active", root, nil), 200)
	if len(bobs.Data) != 1 || bobs.Data[0].Name != "bob's" || bobs.HasMore {
		t.Errorf("bob's: %+v", bobs)
	}
}

// keysOwner is the actor of the account's owner, for keys made around
// the API.
func keysOwner(acct string) audit.Actor {
	return audit.Actor{AccountID: acct, Role: string(team.Owner)}
}

// withNotify makes the server's verifier hear other instances' changes,
// and announce its own, over PostgreSQL NOTIFY, as keyhold serve does
// without Redis.
func withNotify(tb testing.TB) option {
	return func(c *server.Config, db *store.DB) {
		inv := db.Notifier(nil)
		v, err := verify.New(verify.Config{Loader: db, Plans: c.Plans, Invalidator: inv})
		if err != nil {
			tb.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		tb.Cleanup(cancel)
		bc := verify.NewBroadcast(inv, v, nil)
		c.Keys.Subscribe(func(e keys.Event) { bc.KeyEvent(ctx, e) })
		go bc.Listen(ctx)
		c.Verifier = v
	}
}

// TestAPIRevokeReachesAnotherInstance: two instances on one PostgreSQL
// database; a key cached by B is refused by B as soon as A revokes it
// through the API, long before B's cache would have read it again.
func TestAPIRevokeReachesAnotherInstance(t *testing.T) {
	a := MustServerOnPostgres(t, withNotify(t))
	b := serverOn(t, a.DB, withNotify(t))
	root := a.mustRootKey("keys.write")
	acct := apiAccount(t, a, "ada@example.com")
	k := decode[apiKey](t, a.call("POST", "/v1/accounts/"+acct+"/keys", root, map[string]any{"name": "shared"}), 201)
	if _, v := b.postVerify(t, verifyJSON(k.Secret, ""), nil); !v.Valid {
		t.Fatalf("B before: %s", v.Raw)
	}
	// Both instances listen before the revoke is announced.
	waitFor(t, 5*time.Second, "both instances LISTEN", func() bool {
		var n int
		if err := a.queryRow("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n >= 2
	})
	decode[apiKey](t, a.call("POST", "/v1/keys/"+k.ID+"/revoke", root, nil), 200)
	start := time.Now()
	waitFor(t, 5*time.Second, "B refuses the revoked key", func() bool {
		_, v := b.postVerify(t, verifyJSON(k.Secret, ""), nil)
		return v.Code == "REVOKED"
	})
	t.Logf("B refused the key %v after A revoked it", time.Since(start))
}

// waitFor polls cond until it holds, failing after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
