package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/server"
	"github.com/keyhold/keyhold/internal/store"
)

// The management API's tests drive it through the mounted server, as a
// client would: the harness is the server's.

// mustRootKey makes a root key with perms on the command line's behalf.
func (h *harness) mustRootKey(perms ...string) string {
	h.t.Helper()
	_, secret, err := h.RootKeys.Create(context.Background(), audit.Actor{}, "test", perms)
	if err != nil {
		h.t.Fatal(err)
	}
	return secret.Reveal()
}

// apiCall is one answer of the management API.
type apiCall struct {
	Status int
	Header http.Header
	Body   []byte
}

// problem is an RFC 9457 answer.
type problem struct {
	Type, Title, Detail string
	Status              int
	Errors              []struct{ Location, Message string }
}

func (c apiCall) problem(t testing.TB) problem {
	t.Helper()
	if ct := c.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d, Content-Type %q, body %s", c.Status, ct, c.Body)
	}
	var p problem
	if err := json.Unmarshal(c.Body, &p); err != nil {
		t.Fatalf("problem %s: %v", c.Body, err)
	}
	if p.Status != c.Status || p.Title == "" || p.Type == "" {
		t.Errorf("problem %+v for status %d", p, c.Status)
	}
	return p
}

// call sends method path with rootKey (none when empty), body (JSON when
// not a string or []byte) and extra headers "Name: value".
func (h *harness) call(method, path, rootKey string, body any, headers ...string) apiCall {
	h.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, h.URL+path, r)
	if err != nil {
		h.t.Fatal(err)
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if rootKey != "" {
		req.Header.Set("Authorization", "Bearer "+rootKey)
	}
	for _, hd := range headers {
		name, value, _ := strings.Cut(hd, ": ")
		req.Header.Set(name, value)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return apiCall{Status: res.StatusCode, Header: res.Header, Body: b}
}

func withAPIRate(rate, burst int) option {
	return func(c *server.Config, _ *store.DB) { c.APIRate, c.APIBurst = rate, burst }
}

// mangle changes the last character of key to another one: always
// another, or a key that happens to end in the replacement would stay valid.
func mangle(key string) string {
	last := "x"
	if strings.HasSuffix(key, last) {
		last = "y"
	}
	return key[:len(key)-1] + last
}

// TestAPIAuthentication: no key, a mangled or revoked root key and an API
// key are 401 with WWW-Authenticate; a key in the query string is refused
// before it is looked at and kept out of the log; a key that lacks the
// permission is 403 naming it.
func TestAPIAuthentication(t *testing.T) {
	h := MustServer(t)
	root := h.mustRootKey("audit.read")
	other := h.mustRootKey("keys.read")
	_, live := mustKeyFor(t, h, "dev@example.com", nil)

	if c := h.call("GET", "/v1/audit", root, nil); c.Status != 200 {
		t.Fatalf("a good key: %d %s", c.Status, c.Body)
	}
	revoked := h.mustRootKey("audit.read")
	ks, _ := h.RootKeys.List(context.Background())
	for _, k := range ks {
		if strings.HasSuffix(revoked, k.Display[len(k.Display)-4:]) {
			if _, err := h.RootKeys.Revoke(context.Background(), audit.Actor{}, k.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name, key, want string
	}{
		{"none", "", "Send a root key"},
		{"mangled", mangle(root), "not valid"},
		{"revoked", revoked, "not valid"},
		{"an API key", live, "This is an API key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := h.call("GET", "/v1/audit", tc.key, nil)
			if c.Status != 401 {
				t.Fatalf("%d %s", c.Status, c.Body)
			}
			if p := c.problem(t); !strings.Contains(p.Detail, tc.want) {
				t.Errorf("detail %q, want %q", p.Detail, tc.want)
			}
			if !strings.HasPrefix(c.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", c.Header.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("key in the query", func(t *testing.T) {
		c := h.call("GET", "/v1/audit?limit=5&token="+root, root, nil)
		if c.Status != 401 || !strings.Contains(c.problem(t).Detail, "never in the URL") {
			t.Fatalf("%d %s", c.Status, c.Body)
		}
		if strings.Contains(h.log.String(), root) {
			t.Error("the root key is in the log")
		}
	})
	t.Run("missing permission", func(t *testing.T) {
		c := h.call("GET", "/v1/audit", other, nil)
		if c.Status != 403 || !strings.Contains(c.problem(t).Detail, "audit.read") {
			t.Fatalf("%d %s", c.Status, c.Body)
		}
	})
	if strings.Contains(h.log.String(), live) {
		t.Error("the API key is in the log")
	}
}

// TestAPIRateLimit: each root key has its own limit; every answer says
// where it stands, and the call past the burst is 429 with Retry-After.
func TestAPIRateLimit(t *testing.T) {
	h := MustServer(t, withAPIRate(1, 3))
	a, b := h.mustRootKey("audit.read"), h.mustRootKey("audit.read")
	for i := range 3 {
		c := h.call("GET", "/v1/audit", a, nil)
		if c.Status != 200 || c.Header.Get("RateLimit-Limit") != "3" || c.Header.Get("RateLimit-Remaining") != string(rune('2'-i)) {
			t.Fatalf("call %d: %d limit %q remaining %q", i, c.Status, c.Header.Get("RateLimit-Limit"), c.Header.Get("RateLimit-Remaining"))
		}
	}
	c := h.call("GET", "/v1/audit", a, nil)
	if c.Status != 429 || c.Header.Get("Retry-After") != "1" || c.Header.Get("RateLimit-Remaining") != "0" {
		t.Fatalf("past the burst: %d Retry-After %q", c.Status, c.Header.Get("Retry-After"))
	}
	c.problem(t)
	if c := h.call("GET", "/v1/audit", b, nil); c.Status != 200 {
		t.Fatalf("another root key: %d", c.Status)
	}
}

// TestOpenAPIDocument: the document is served, in 3.1 and 3.0, and
// describes the operations with the root key scheme.
func TestOpenAPIDocument(t *testing.T) {
	h := MustServer(t)
	for _, path := range []string{"/v1/openapi.json", "/v1/openapi-3.0.json"} {
		c := h.call("GET", path, "", nil)
		if c.Status != 200 {
			t.Fatalf("%s: %d", path, c.Status)
		}
		var doc struct {
			OpenAPI string                    `json:"openapi"`
			Paths   map[string]map[string]any `json:"paths"`
		}
		if err := json.Unmarshal(c.Body, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Paths["/v1/audit"]["get"] == nil {
			t.Errorf("%s has no GET /v1/audit", path)
		}
	}
}

// TestAPIUnknownRoutes: a path or method the API does not have answers a
// problem too, not the portal's page or verify's shape.
func TestAPIUnknownRoutes(t *testing.T) {
	h := MustServer(t)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/v1/nope", 404},
		{"DELETE", "/v1/audit", 405},
	} {
		c := h.call(tc.method, tc.path, "", nil)
		if c.Status != tc.status {
			t.Errorf("%s %s: %d", tc.method, tc.path, c.Status)
			continue
		}
		c.problem(t)
	}
}

// TestAPIIdempotencyKeepsNoSecret: the kept answer of a key's creation
// holds the new secret, so it is stored sealed: the row shows neither the
// secret nor its JSON, and the replay gives the same secret back.
func TestAPIIdempotencyKeepsNoSecret(t *testing.T) {
	h := MustServer(t)
	root := h.mustRootKey("accounts.write", "keys.write")
	acct := h.call("POST", "/v1/accounts", root, map[string]any{"name": "Sealed"})
	var a struct{ ID string }
	if err := json.Unmarshal(acct.Body, &a); err != nil || acct.Status != 201 {
		t.Fatalf("account: %d %s", acct.Status, acct.Body)
	}
	first := h.call("POST", "/v1/accounts/"+a.ID+"/keys", root, map[string]any{"name": "k"}, "Idempotency-Key: seal-1")
	again := h.call("POST", "/v1/accounts/"+a.ID+"/keys", root, map[string]any{"name": "k"}, "Idempotency-Key: seal-1")
	var k1, k2 struct{ Secret string }
	_ = json.Unmarshal(first.Body, &k1)
	_ = json.Unmarshal(again.Body, &k2)
	if first.Status != 201 || again.Status != 201 || k1.Secret == "" || k2.Secret != k1.Secret || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("first %d %s, replay %d %s", first.Status, first.Body, again.Status, again.Body)
	}
	var body string
	if err := h.queryRow("SELECT body FROM api_idempotency WHERE idem_key = ?", "seal-1").Scan(&body); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(body, k1.Secret[8:]) || strings.Contains(body, "secret") || strings.Contains(body, "kh_live_") {
		t.Fatalf("the kept answer is readable: %.80s…", body)
	}
}

// TestAPIBodies: a body over 64 KiB is 413, with or without
// Idempotency-Key, and changes nothing; a PATCH without a body changes
// nothing and answers the resource.
func TestAPIBodies(t *testing.T) {
	h := MustServer(t)
	root := h.mustRootKey("accounts.write", "accounts.read", "keys.write")
	big := `{"name":"` + strings.Repeat("a", 70<<10) + `"}`
	for _, hd := range [][]string{nil, {"Idempotency-Key: big-1"}} {
		c := h.call("POST", "/v1/accounts", root, big, hd...)
		if c.Status != 413 {
			t.Fatalf("70 KiB body %v: %d %s", hd, c.Status, c.Body)
		}
		c.problem(t)
	}
	if c := h.call("GET", "/v1/accounts", h.mustRootKey("accounts.read"), nil); !strings.Contains(string(c.Body), `"data":[]`) {
		t.Errorf("a refused body made an account: %s", c.Body)
	}
	acct := h.call("POST", "/v1/accounts", root, map[string]any{"name": "Bodies"})
	var a struct{ ID string }
	_ = json.Unmarshal(acct.Body, &a)
	key := h.call("POST", "/v1/accounts/"+a.ID+"/keys", root, map[string]any{"name": "k"})
	var k struct{ ID, Name string }
	_ = json.Unmarshal(key.Body, &k)
	for _, path := range []string{"/v1/keys/" + k.ID, "/v1/accounts/" + a.ID} {
		c := h.call("PATCH", path, root, nil)
		if c.Status != 200 {
			t.Errorf("PATCH %s without a body: %d %s", path, c.Status, c.Body)
		}
	}
}
