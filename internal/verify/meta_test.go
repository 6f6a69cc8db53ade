package verify_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/verify"
)

// mustStoreMeta writes a key's meta column with raw SQL, as an older
// version or a hand edit might have left it: Keyhold itself refuses these.
func (f *fixture) mustStoreMeta(keyID, meta string) {
	f.t.Helper()
	// The "sqlite" driver is the one the store registers (glebarez/go-sqlite).
	db, err := sql.Open("sqlite", "file:"+f.path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		f.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), "UPDATE api_keys SET meta = ? WHERE id = ?", meta, keyID); err != nil {
		f.t.Fatal(err)
	}
}

// A stored meta that clients could not read must not cost the key its
// verifications (it used to answer UNAVAILABLE, every time): the key
// verifies VALID with its other fields, a number no decoder reads is
// answered as its literal text in a string, and what is no JSON object at
// all is answered as {}.
func TestVerifyKeyWithUnreadableStoredMeta(t *testing.T) {
	for _, tc := range []struct{ name, stored, want string }{
		{"overflow", `{"big":1e999,"team":"core"}`, `{"big":"1e999","team":"core"}`},
		{"nested", `{"id":12345678901234567890,"n":[1,-1e400,{"x":1e-400}]}`, `{"id":"12345678901234567890","n":[1,"-1e400",{"x":"1e-400"}]}`},
		{"readable", `{"team":"core"}`, `{"team":"core"}`},
		{"readable with spaces", ` { "team" : "core" } `, `{"team":"core"}`},
		{"not json", `not json`, `{}`},
		{"not an object", `[1,2]`, `{}`},
		{"empty", ``, `{}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := MustFixture(t)
			k, key := f.MustKey(keys.Settings{Name: "api", Scopes: []string{"read"}})
			f.mustStoreMeta(k.ID, tc.stored)
			res := f.Verify(key, 1, "read")
			if res.Code != verify.Valid {
				t.Fatalf("code %v, want VALID", res.Code)
			}
			raw := verify.AppendJSON(nil, &res)
			var a struct {
				KeyID  string          `json:"key_id"`
				Name   string          `json:"name"`
				Scopes []string        `json:"scopes"`
				Meta   json.RawMessage `json:"meta"`
			}
			if err := json.Unmarshal(raw, &a); err != nil {
				t.Fatalf("answer %s does not decode: %v", raw, err)
			}
			var m map[string]any
			if err := json.Unmarshal(a.Meta, &m); err != nil {
				t.Errorf("meta %s does not decode into Go values: %v", a.Meta, err)
			}
			if a.KeyID != k.ID || a.Name != "api" || len(a.Scopes) != 1 || string(a.Meta) != tc.want {
				t.Errorf("answer %s, want meta %s", raw, tc.want)
			}
		})
	}
}
