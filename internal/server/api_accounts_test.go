package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/server"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/team"
	"github.com/keyhold/keyhold/internal/testenv"
)

// accountAnswer is an Account of the management API.
type accountAnswer struct {
	ID         string    `json:"id"`
	Object     string    `json:"object"`
	Name       string    `json:"name"`
	ExternalID optional  `json:"external_id"`
	Plan       string    `json:"plan"`
	Suspended  bool      `json:"suspended"`
	CreatedAt  time.Time `json:"created_at"`
}

type accountList struct {
	Object  string          `json:"object"`
	Data    []accountAnswer `json:"data"`
	HasMore bool            `json:"has_more"`
}

// optional is a JSON string or null, comparable with ==.
type optional struct {
	Set   bool
	Value string
}

func (o *optional) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*o = optional{}
		return nil
	}
	o.Set = true
	return json.Unmarshal(b, &o.Value)
}

func some(s string) optional { return optional{Set: true, Value: s} }

// decodeAs parses c's body as T after checking its status.
func decodeAs[T any](t testing.TB, c apiCall, status int) T {
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

// accountKeys are the fields of an Account, every one always present.
var accountKeys = []string{"created_at", "external_id", "id", "name", "object", "plan", "suspended"}

// mustAccount checks that c is an Account answer with exactly its fields.
func mustAccount(t testing.TB, c apiCall, status int) accountAnswer {
	t.Helper()
	raw := decodeAs[map[string]any](t, c, status)
	if got := slices.Sorted(maps.Keys(raw)); !slices.Equal(got, accountKeys) {
		t.Errorf("fields %v, want %v", got, accountKeys)
	}
	a := decodeAs[accountAnswer](t, c, status)
	if a.Object != "account" || a.ID == "" || a.CreatedAt.IsZero() || a.CreatedAt.Location() != time.UTC {
		t.Errorf("account %+v", a)
	}
	return a
}

// rootActor is a root key's actor, for setup through the services.
var rootActor = audit.Actor{RootKeyID: "rk_setup"}

// servers runs f on SQLite and on PostgreSQL.
func servers(t *testing.T, f func(t *testing.T, h *harness)) {
	for _, on := range []struct {
		name string
		mk   func(testing.TB, ...option) *harness
	}{{"sqlite", MustServer}, {"postgres", MustServerOnPostgres}} {
		t.Run(on.name, func(t *testing.T) { f(t, on.mk(t, withAPIRate(10_000, 10_000))) })
	}
}

// TestAPIAccountsCreate: POST /v1/accounts answers 201 with the account
// and its Location, on the default plan or a comped one, audited with the
// root key as actor.
func TestAPIAccountsCreate(t *testing.T) {
	servers(t, func(t *testing.T, h *harness) {
		root := h.mustRootKey("accounts.write", "accounts.read")
		reader := h.mustRootKey("audit.read")
		for _, tc := range []struct {
			name     string
			body     map[string]any
			want     accountAnswer
			external string
			actions  []string
		}{
			{"name only", map[string]any{"name": "  Acme  "}, accountAnswer{Name: "Acme", Plan: "free"}, "", []string{audit.AccountCreated}},
			{"external id", map[string]any{"name": "Globex", "external_id": "cus_42"}, accountAnswer{Name: "Globex", Plan: "free"}, "cus_42",
				[]string{audit.AccountCreated}},
			{"the default plan by name", map[string]any{"name": "Initech", "plan": "free"}, accountAnswer{Name: "Initech", Plan: "free"}, "",
				[]string{audit.AccountCreated}},
			{"comped plan", map[string]any{"name": "Umbrella", "plan": "business"}, accountAnswer{Name: "Umbrella", Plan: "business"}, "",
				[]string{audit.PlanAssigned, audit.AccountCreated}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := h.call("POST", "/v1/accounts", root, tc.body)
				a := mustAccount(t, c, 201)
				if a.Name != tc.want.Name || a.Plan != tc.want.Plan || a.Suspended {
					t.Errorf("account %+v, want %+v", a, tc.want)
				}
				if want := (optional{Set: tc.external != "", Value: tc.external}); a.ExternalID != want {
					t.Errorf("external_id %v, want %q", a.ExternalID, tc.external)
				}
				if loc := c.Header.Get("Location"); loc != "/v1/accounts/"+a.ID {
					t.Errorf("Location %q", loc)
				}
				if got := mustAccount(t, h.call("GET", "/v1/accounts/"+a.ID, root, nil), 200); got != a {
					t.Errorf("read back %+v, made %+v", got, a)
				}
				entries := auditOf(t, h, reader, a.ID, -1)
				var actions []string
				for _, e := range entries {
					actions = append(actions, e.Action)
				}
				if !slices.Equal(actions, tc.actions) {
					t.Errorf("audit %v, want %v", actions, tc.actions)
				}
				if tc.want.Plan == "business" && !strings.Contains(entries[0].Detail, "Free → Business") {
					t.Errorf("plan entry %q", entries[0].Detail)
				}
				// Provisioned accounts have no member until an owner is named.
				if ms, err := h.Team.AccountMembers(context.Background(), a.ID); err != nil || len(ms) != 0 {
					t.Errorf("members %v %v", ms, err)
				}
			})
		}
	})
}

type auditAnswer struct {
	Action string `json:"action"`
	Actor  struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"actor"`
	TargetType string `json:"target_type"`
	TargetID   string `json:"target_id"`
	Detail     string `json:"detail"`
}

// auditOf returns the account's audit entries, newest first, checking
// that the newest fromAPI ones (all of them when it is -1) name a root key
// as their actor.
func auditOf(t testing.TB, h *harness, reader, accountID string, fromAPI int) []auditAnswer {
	t.Helper()
	l := decodeAs[struct{ Data []auditAnswer }](t, h.call("GET", "/v1/audit?limit=100&account_id="+accountID, reader, nil), 200)
	if fromAPI < 0 {
		fromAPI = len(l.Data)
	}
	for _, e := range l.Data[:min(fromAPI, len(l.Data))] {
		if e.Actor.Type != "root_key" || e.Actor.ID == "" {
			t.Errorf("entry %s has actor %+v", e.Action, e.Actor)
		}
	}
	return l.Data
}

// TestAPIAccountsPermissions: each operation needs its permission, and a
// key without it is refused, naming it, with nothing made.
func TestAPIAccountsPermissions(t *testing.T) {
	h := MustServer(t)
	a, err := h.Team.Provision(context.Background(), rootActor, team.NewAccount{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	readOnly, writeOnly := h.mustRootKey("accounts.read", "keys.write"), h.mustRootKey("accounts.write")
	for _, tc := range []struct {
		method, path, key, need string
		body                    any
	}{
		{"POST", "/v1/accounts", readOnly, "accounts.write", map[string]any{"name": "New"}},
		{"PATCH", "/v1/accounts/" + a.ID, readOnly, "accounts.write", map[string]any{"name": "New"}},
		{"GET", "/v1/accounts", writeOnly, "accounts.read", nil},
		{"GET", "/v1/accounts/" + a.ID, writeOnly, "accounts.read", nil},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			c := h.call(tc.method, tc.path, tc.key, tc.body)
			if c.Status != 403 || !strings.Contains(c.problem(t).Detail, tc.need) {
				t.Fatalf("%d %s", c.Status, c.Body)
			}
		})
	}
	if got, err := h.Team.Account(context.Background(), a.ID); err != nil || got.Name != "Acme" {
		t.Errorf("after refusals: %+v %v", got, err)
	}
	if n := countRows(t, h, "SELECT COUNT(*) FROM accounts"); n != 1 {
		t.Errorf("%d accounts", n)
	}
}

func countRows(t testing.TB, h *harness, query string, args ...any) int {
	t.Helper()
	var n int
	if err := h.queryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAPIAccountsValidation: bad input is 422 naming every bad field at
// once (or 409 for a taken external id), and makes or changes nothing.
func TestAPIAccountsValidation(t *testing.T) {
	h := MustServer(t)
	root := h.mustRootKey("accounts.write", "accounts.read")
	taken := mustAccount(t, h.call("POST", "/v1/accounts", root, map[string]any{"name": "Taken", "external_id": "cus_taken"}), 201)
	other := mustAccount(t, h.call("POST", "/v1/accounts", root, map[string]any{"name": "Other", "external_id": "cus_other"}), 201)
	long := strings.Repeat("n", 65)
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		fields             []string // the locations named, in order
	}{
		{"empty name", "POST", "/v1/accounts", map[string]any{"name": "  "}, 422, []string{"body.name"}},
		{"name too long", "POST", "/v1/accounts", map[string]any{"name": long}, 422, []string{"body.name"}},
		{"invisible character in the name", "POST", "/v1/accounts", map[string]any{"name": "Ac\u202eme"}, 422, []string{"body.name"}},
		{"no name", "POST", "/v1/accounts", map[string]any{"plan": "free"}, 422, []string{"body"}}, // "expected required property name"
		{"null name", "POST", "/v1/accounts", `{"name": null}`, 422, []string{"body.name"}},
		{"unknown field", "POST", "/v1/accounts", map[string]any{"name": "A", "owner": "x"}, 422, []string{"body.owner"}},
		{"wrong type", "POST", "/v1/accounts", map[string]any{"name": 5}, 422, []string{"body.name"}},
		{"bad plan", "POST", "/v1/accounts", map[string]any{"name": "A", "plan": "platinum"}, 422, []string{"body.plan"}},
		{"external id too long", "POST", "/v1/accounts", map[string]any{"name": "A", "external_id": strings.Repeat("x", 129)}, 422, []string{"body.external_id"}},
		{"bad owner email", "POST", "/v1/accounts", map[string]any{"name": "A", "owner_email": "not-an-email"}, 422, []string{"body.owner_email"}},
		{"every field at once", "POST", "/v1/accounts", map[string]any{"name": "", "external_id": " x", "plan": "platinum", "owner_email": "nope"}, 422,
			[]string{"body.name", "body.external_id", "body.plan", "body.owner_email"}},
		{"duplicate external id", "POST", "/v1/accounts", map[string]any{"name": "A", "external_id": "cus_taken"}, 409, []string{"body.external_id"}},
		{"not JSON", "POST", "/v1/accounts", "{", 400, nil},
		{"limit 0", "GET", "/v1/accounts?limit=0", nil, 422, []string{"query.limit"}},
		{"limit 101", "GET", "/v1/accounts?limit=101", nil, 422, []string{"query.limit"}},
		{"unknown filter", "GET", "/v1/accounts?owner=x", nil, 422, []string{"query.owner"}},
		{"bad email filter", "GET", "/v1/accounts?email=nope", nil, 422, []string{"query.email"}},
		{"patch every field at once", "PATCH", "/v1/accounts/" + taken.ID, map[string]any{"name": long, "external_id": strings.Repeat("x", 129), "plan": "platinum", "suspended": true}, 422,
			[]string{"body.name", "body.external_id", "body.plan"}},
		{"patch unknown field", "PATCH", "/v1/accounts/" + taken.ID, map[string]any{"owner_email": "a@example.com"}, 422, []string{"body.owner_email"}},
		{"patch wrong type", "PATCH", "/v1/accounts/" + taken.ID, map[string]any{"suspended": "yes"}, 422, []string{"body.suspended"}},
		{"patch duplicate external id", "PATCH", "/v1/accounts/" + taken.ID, map[string]any{"name": "Renamed", "external_id": "cus_other"}, 409, []string{"body.external_id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := h.call(tc.method, tc.path, root, tc.body)
			if c.Status != tc.status {
				t.Fatalf("%d %s", c.Status, c.Body)
			}
			p := c.problem(t)
			var got []string
			for _, e := range p.Errors {
				if e.Message == "" {
					t.Errorf("no message at %s", e.Location)
				}
				got = append(got, e.Location)
			}
			if tc.fields != nil && !slices.Equal(got, tc.fields) {
				t.Errorf("locations %v, want %v (%s)", got, tc.fields, c.Body)
			}
			if tc.status == 409 && !strings.Contains(p.Detail, "cus_") {
				t.Errorf("409 does not name the external id: %q", p.Detail)
			}
		})
	}
	if n := countRows(t, h, "SELECT COUNT(*) FROM accounts"); n != 2 {
		t.Errorf("%d accounts after refusals", n)
	}
	for _, a := range []accountAnswer{taken, other} {
		if got := mustAccount(t, h.call("GET", "/v1/accounts/"+a.ID, root, nil), 200); got != a {
			t.Errorf("changed by a refusal: %+v, was %+v", got, a)
		}
	}
}

// TestAPIAccountsNotFound: an unknown id is 404 for reads and changes.
func TestAPIAccountsNotFound(t *testing.T) {
	h := MustServer(t)
	root := h.mustRootKey("accounts.write", "accounts.read")
	for _, tc := range []struct {
		method string
		body   any
	}{{"GET", nil}, {"PATCH", map[string]any{"name": "X"}}, {"PATCH", map[string]any{"suspended": true}}, {"PATCH", map[string]any{}}} {
		c := h.call(tc.method, "/v1/accounts/01jd8m2x4k9q7r3t5v6w8y0z1a", root, tc.body)
		if c.Status != 404 || !strings.Contains(c.problem(t).Detail, "01jd8m2x4k9q7r3t5v6w8y0z1a") {
			t.Errorf("%s %v: %d %s", tc.method, tc.body, c.Status, c.Body)
		}
	}
}

// TestAPIAccountsList: the filters select by external id, a member's
// email (in any case) and plan; newest first.
func TestAPIAccountsList(t *testing.T) {
	servers(t, func(t *testing.T, h *harness) {
		root := h.mustRootKey("accounts.write", "accounts.read")
		h.Browser().MustSignup("ada@example.com") // her personal account
		ada := accountID(t, h, "ada@example.com")
		mk := func(body map[string]any) string {
			return mustAccount(t, h.call("POST", "/v1/accounts", root, body), 201).ID
		}
		a := mk(map[string]any{"name": "A", "external_id": "ext-a"})
		b := mk(map[string]any{"name": "B", "plan": "pro", "owner_email": "Ada@Example.com"})
		c := mk(map[string]any{"name": "C", "plan": "pro"})
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"", []string{c, b, a, ada}},
			{"external_id=ext-a", []string{a}},
			{"external_id=ext-A", nil},
			{"plan=pro", []string{c, b}},
			{"plan=business", nil},
			{"email=" + url.QueryEscape(" ADA@example.com "), []string{b, ada}},
			{"email=nobody@example.com", nil},
			{"email=ada@example.com&plan=pro", []string{b}},
			{"limit=2", []string{c, b}},
			{"starting_after=" + b, []string{a, ada}},
		} {
			l := decodeAs[accountList](t, h.call("GET", "/v1/accounts?"+tc.query, root, nil), 200)
			var got []string
			for _, x := range l.Data {
				got = append(got, x.ID)
			}
			if !slices.Equal(got, tc.want) || l.Object != "list" || l.HasMore != (tc.query == "limit=2") {
				t.Errorf("%q: %v has_more %v, want %v", tc.query, got, l.HasMore, tc.want)
			}
		}
		if l := h.call("GET", "/v1/accounts?plan=business", root, nil); !strings.Contains(string(l.Body), `"data":[]`) {
			t.Errorf("an empty list: %s", l.Body)
		}
	})
}

// TestAPIAccountsPagination: walking the list page by page while accounts
// are being made gives each of the accounts there before the walk exactly
// once, in order; those made during it come only before them.
func TestAPIAccountsPagination(t *testing.T) {
	servers(t, func(t *testing.T, h *harness) {
		root := h.mustRootKey("accounts.read")
		ctx := context.Background()
		var before []string
		for i := range 250 {
			a, err := h.Team.Provision(ctx, rootActor, team.NewAccount{Name: fmt.Sprintf("Account %d", i)})
			if err != nil {
				t.Fatal(err)
			}
			before = append(before, a.ID)
		}
		// Newest first is by id; ids made in one millisecond need not
		// follow the order they were made in.
		slices.Sort(before)
		slices.Reverse(before)
		// Accounts made from here on have ids of a later millisecond.
		for last := time.Now().UnixMilli(); time.Now().UnixMilli() <= last; {
			runtime.Gosched()
		}

		stop := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var during []string
		for w := range 3 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					a, err := h.Team.Provision(ctx, rootActor, team.NewAccount{Name: fmt.Sprintf("During %d-%d", w, i)})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					during = append(during, a.ID)
					mu.Unlock()
				}
			})
		}
		var seen []string
		after := ""
		for pages := 0; ; pages++ {
			// Each page is older than the last: the walk ends, however
			// many accounts were made before its first page.
			if pages > 2000 {
				t.Fatal("the walk does not end")
			}
			l := decodeAs[accountList](t, h.call("GET", "/v1/accounts?limit=7&starting_after="+after, root, nil), 200)
			for _, a := range l.Data {
				seen = append(seen, a.ID)
			}
			if !l.HasMore {
				break
			}
			after = l.Data[len(l.Data)-1].ID
		}
		close(stop)
		wg.Wait()
		if len(during) == 0 {
			t.Fatal("nothing was made during the walk")
		}
		// Only accounts made during the walk may come before the 250, each
		// once; the 250 follow, each once, in order.
		i := slices.Index(seen, before[0])
		if i < 0 {
			t.Fatal("the newest account of the 250 is missing")
		}
		made := map[string]bool{}
		for _, id := range during {
			made[id] = true
		}
		once := map[string]bool{}
		for _, id := range seen {
			if once[id] {
				t.Errorf("%s twice", id)
			}
			once[id] = true
		}
		for _, id := range seen[:i] {
			if !made[id] {
				t.Errorf("%s before the 250 was not made during the walk", id)
			}
		}
		if !slices.Equal(seen[i:], before) {
			t.Errorf("the 250 were read as %d items, not once each in order", len(seen[i:]))
		}
		if !slices.IsSortedFunc(seen, func(a, b string) int { return strings.Compare(b, a) }) {
			t.Error("not newest first")
		}
	})
}

// TestAPIAccountsIdempotency: a retry with the same Idempotency-Key and
// body gets the first answer again and makes nothing; another body with
// that key is 422; concurrent requests with one key make one account.
func TestAPIAccountsIdempotency(t *testing.T) {
	servers(t, func(t *testing.T, h *harness) {
		root := h.mustRootKey("accounts.write")
		body := map[string]any{"name": "Once", "external_id": "cus_once"}
		first := h.call("POST", "/v1/accounts", root, body, "Idempotency-Key: k-1")
		a := mustAccount(t, first, 201)
		again := h.call("POST", "/v1/accounts", root, body, "Idempotency-Key: k-1")
		if again.Status != 201 || string(again.Body) != string(first.Body) || again.Header.Get("Idempotent-Replayed") != "true" ||
			again.Header.Get("Location") != "/v1/accounts/"+a.ID {
			t.Errorf("replay: %d %q %s", again.Status, again.Header.Get("Idempotent-Replayed"), again.Body)
		}
		other := h.call("POST", "/v1/accounts", root, map[string]any{"name": "Twice"}, "Idempotency-Key: k-1")
		if other.Status != 422 || !strings.Contains(other.problem(t).Detail, "different request") {
			t.Errorf("another body: %d %s", other.Status, other.Body)
		}
		if n := countRows(t, h, "SELECT COUNT(*) FROM accounts"); n != 1 {
			t.Errorf("%d accounts", n)
		}

		// At once: one runs, the others wait (409, retry) or get its answer.
		const n = 8
		answers := make([]apiCall, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				answers[i] = h.call("POST", "/v1/accounts", root, map[string]any{"name": "Racing"}, "Idempotency-Key: k-race")
			})
		}
		wg.Wait()
		var made string
		for _, c := range answers {
			switch c.Status {
			case 201:
				id := decodeAs[accountAnswer](t, c, 201).ID
				if made != "" && id != made {
					t.Errorf("two accounts: %s and %s", made, id)
				}
				made = id
			case 409:
				if c.Header.Get("Retry-After") == "" {
					t.Errorf("409 without Retry-After: %s", c.Body)
				}
			default:
				t.Errorf("%d %s", c.Status, c.Body)
			}
		}
		if made == "" {
			t.Fatal("no request made the account")
		}
		if n := countRows(t, h, "SELECT COUNT(*) FROM accounts WHERE name = ?", "Racing"); n != 1 {
			t.Errorf("%d accounts made with one key", n)
		}
	})
}

// TestAPIAccountsOwner: owner_email makes an existing user the owner (the
// account is among their memberships); for an unknown email it leaves an
// owner invitation, whose token is nowhere in the answer.
func TestAPIAccountsOwner(t *testing.T) {
	servers(t, func(t *testing.T, h *harness) {
		root := h.mustRootKey("accounts.write")
		reader := h.mustRootKey("audit.read")
		b := h.Browser()
		b.MustSignup("grace@example.com")
		grace := accountID(t, h, "grace@example.com")

		c := h.call("POST", "/v1/accounts", root, map[string]any{"name": "Grace's team", "owner_email": " GRACE@example.com"})
		a := mustAccount(t, c, 201)
		ms, err := h.Team.Memberships(context.Background(), grace)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(ms, func(m team.Membership) bool { return m.AccountID == a.ID })
		if i < 0 || ms[i].Role != team.Owner {
			t.Fatalf("memberships %+v", ms)
		}
		es := auditOf(t, h, reader, a.ID, -1)
		if len(es) != 2 || es[0].Action != audit.MemberAdded || es[0].TargetID != grace || !strings.Contains(es[0].Detail, "grace@example.com") {
			t.Errorf("audit %+v", es)
		}
		if n := countRows(t, h, "SELECT COUNT(*) FROM invitations WHERE account_id = ?", a.ID); n != 0 {
			t.Errorf("%d invitations for an existing user", n)
		}

		c = h.call("POST", "/v1/accounts", root, map[string]any{"name": "New team", "owner_email": "newbie@example.com"})
		a = mustAccount(t, c, 201)
		var hash, role string
		if err := h.queryRow("SELECT token_hash, role FROM invitations WHERE account_id = ? AND email = ? AND accepted_at IS NULL AND revoked_at IS NULL",
			a.ID, "newbie@example.com").Scan(&hash, &role); err != nil {
			t.Fatalf("no invitation: %v", err)
		}
		if role != "owner" {
			t.Errorf("invited as %s", role)
		}
		if strings.Contains(string(c.Body), hash) || strings.Contains(string(c.Body), "token") || strings.Contains(string(c.Body), "invitation") {
			t.Errorf("the answer says something of the invitation: %s", c.Body)
		}
		if ms, _ := h.Team.AccountMembers(context.Background(), a.ID); len(ms) != 0 {
			t.Errorf("members before the sign-up: %+v", ms)
		}
		es = auditOf(t, h, reader, a.ID, -1)
		if len(es) != 2 || es[0].Action != audit.MemberInvited || es[0].TargetType != audit.TargetInvitation {
			t.Errorf("audit %+v", es)
		}
	})
}

// TestAPIAccountsPatch: each field changes alone and is audited with the
// root key; absent fields and an empty body change nothing; suspending
// makes the account's keys answer DISABLED, lifting it VALID again; a
// comped plan is refused for an account paying through Stripe.
func TestAPIAccountsPatch(t *testing.T) {
	servers(t, func(t *testing.T, h *harness) {
		root := h.mustRootKey("accounts.write", "accounts.read")
		reader := h.mustRootKey("audit.read")
		_, secret := mustKeyFor(t, h, "dev@example.com", nil)
		id := accountID(t, h, "dev@example.com")
		path := "/v1/accounts/" + id
		verify := func() string {
			_, v := h.postVerify(t, verifyJSON(secret, ""), nil)
			return v.Code
		}
		if got := verify(); got != "VALID" {
			t.Fatalf("before: %s", got)
		}
		start := mustAccount(t, h.call("GET", path, root, nil), 200)

		for _, tc := range []struct {
			name   string
			body   any
			change func(*accountAnswer)
			action string // the entry the change writes; "" for none
			code   string // what the key verifies as afterwards
		}{
			{"empty body", nil, func(*accountAnswer) {}, "", "VALID"},
			{"empty object", map[string]any{}, func(*accountAnswer) {}, "", "VALID"},
			{"null is absent", `{"name": null, "plan": null}`, func(*accountAnswer) {}, "", "VALID"},
			{"rename", map[string]any{"name": " Dev Co "}, func(a *accountAnswer) { a.Name = "Dev Co" }, audit.AccountEdited, "VALID"},
			{"same name", map[string]any{"name": "Dev Co"}, func(*accountAnswer) {}, "", "VALID"},
			{"set external id", map[string]any{"external_id": "cus_dev"}, func(a *accountAnswer) { a.ExternalID = some("cus_dev") }, audit.AccountEdited, "VALID"},
			{"clear external id", map[string]any{"external_id": ""}, func(a *accountAnswer) { a.ExternalID = optional{} }, audit.AccountEdited, "VALID"},
			{"comped plan", map[string]any{"plan": "pro"}, func(a *accountAnswer) { a.Plan = "pro" }, audit.PlanAssigned, "VALID"},
			{"suspend", map[string]any{"suspended": true}, func(a *accountAnswer) { a.Suspended = true }, audit.Suspended, "DISABLED"},
			{"suspend again", map[string]any{"suspended": true}, func(*accountAnswer) {}, "", "DISABLED"},
			{"unsuspend", map[string]any{"suspended": false}, func(a *accountAnswer) { a.Suspended = false }, audit.Unsuspended, "VALID"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := len(auditOf(t, h, reader, id, 0))
				tc.change(&start)
				got := mustAccount(t, h.call("PATCH", path, root, tc.body), 200)
				if got != start {
					t.Errorf("answer %+v, want %+v", got, start)
				}
				if read := mustAccount(t, h.call("GET", path, root, nil), 200); read != got {
					t.Errorf("read back %+v", read)
				}
				written := 0
				if tc.action != "" {
					written = 1
				}
				es := auditOf(t, h, reader, id, written)
				switch {
				case tc.action == "" && len(es) != before:
					t.Errorf("no change, yet audited: %+v", es[0])
				case tc.action != "" && (len(es) != before+1 || es[0].Action != tc.action):
					t.Errorf("audit %d → %d entries, newest %+v, want %s", before, len(es), es[0], tc.action)
				}
				if code := verify(); code != tc.code {
					t.Errorf("the key verifies %s, want %s", code, tc.code)
				}
			})
		}

		t.Run("several fields at once", func(t *testing.T) {
			got := mustAccount(t, h.call("PATCH", path, root, map[string]any{"name": "Both", "plan": "business", "suspended": true}), 200)
			if got.Name != "Both" || got.Plan != "business" || !got.Suspended {
				t.Errorf("%+v", got)
			}
			if code := verify(); code != "DISABLED" {
				t.Errorf("verify %s", code)
			}
		})

		t.Run("paying through Stripe", func(t *testing.T) {
			h.exec("INSERT INTO subscriptions (account_id, stripe_subscription_id, stripe_customer_id, status, updated_at) VALUES (?, ?, ?, ?, ?)",
				id, "sub_live", "cus_live", "active", time.Now().UTC())
			before := mustAccount(t, h.call("GET", path, root, nil), 200)
			c := h.call("PATCH", path, root, map[string]any{"plan": "free", "name": "Not this either"})
			if c.Status != 409 || !strings.Contains(c.problem(t).Detail, "pays through Stripe") {
				t.Fatalf("%d %s", c.Status, c.Body)
			}
			if after := mustAccount(t, h.call("GET", path, root, nil), 200); after != before {
				t.Errorf("a refused change changed %+v into %+v", before, after)
			}
			// Its other fields still change.
			if got := mustAccount(t, h.call("PATCH", path, root, map[string]any{"name": "Paying", "plan": before.Plan}), 200); got.Name != "Paying" {
				t.Errorf("%+v", got)
			}
		})
	})
}

// withTeamEmail mails invitations (with withEmail, which turns mail on
// for the auth service only).
func withTeamEmail(tb testing.TB) option {
	return func(c *server.Config, db *store.DB) {
		svc, err := team.NewService(team.Config{Store: db, Plans: c.Plans, NormalizeEmail: auth.NormalizeEmail, EmailOn: true})
		if err != nil {
			tb.Fatal(err)
		}
		c.Team = svc
	}
}

// TestAPIAccountsOwnerInvitationMailed: with email on, the owner
// invitation of a new email is mailed, and signing up through its link
// makes that person the account's owner.
func TestAPIAccountsOwnerInvitationMailed(t *testing.T) {
	var mp *testenv.Mailpit
	h := MustServer(t, withEmail(t, &mp, false), withTeamEmail(t))
	root := h.mustRootKey("accounts.write", "accounts.read")
	c := h.call("POST", "/v1/accounts", root, map[string]any{"name": "Hopper Labs", "owner_email": "hopper@example.com"})
	a := mustAccount(t, c, 201)
	token := linkIn(t, mp, "hopper@example.com", "/invitations/", 1)
	if strings.Contains(string(c.Body), token) {
		t.Error("the answer holds the invitation's token")
	}
	b := h.Browser()
	if p := b.Submit("/invitations/"+token, "/invitations/"+token, url.Values{"password": {password}}); p.StatusCode != 303 {
		t.Fatalf("sign-up through the link: %d\n%s", p.StatusCode, p.Body)
	}
	u, err := h.DB.UserByEmail(context.Background(), "hopper@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := h.Team.AccountMembers(context.Background(), a.ID)
	if err != nil || len(ms) != 1 || ms[0].UserID != u.ID || ms[0].Role != team.Owner {
		t.Fatalf("members %+v %v", ms, err)
	}
	l := decodeAs[accountList](t, h.call("GET", "/v1/accounts?email=hopper@example.com", root, nil), 200)
	if ids := func() (ids []string) {
		for _, x := range l.Data {
			ids = append(ids, x.ID)
		}
		return ids
	}(); !slices.Contains(ids, a.ID) {
		t.Errorf("the owner's accounts %v lack %s", ids, a.ID)
	}
}
