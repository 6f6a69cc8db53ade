package verify_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/verify"
)

// oldKeyJSON is the key object of the answer as the verifier rendered it
// before entries shared parts (one json.Marshal of the whole object), the
// reference the answer must still match to the byte.
func oldKeyJSON(t *testing.T, k *keys.Key, plan string) string {
	t.Helper()
	meta, _ := keys.ReadableMeta(k.Meta)
	scopes := k.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	var exp *string
	if k.ExpiresAt != nil {
		s := k.ExpiresAt.UTC().Format(time.RFC3339)
		exp = &s
	}
	b, err := json.Marshal(struct {
		KeyID     string          `json:"key_id"`
		OwnerID   string          `json:"owner_id"`
		Name      string          `json:"name"`
		Plan      string          `json:"plan"`
		Scopes    []string        `json:"scopes"`
		Meta      json.RawMessage `json:"meta"`
		ExpiresAt *string         `json:"expires_at"`
	}{k.ID, k.AccountID, k.Name, plan, scopes, meta, exp})
	if err != nil {
		t.Fatal(err)
	}
	return string(b[1 : len(b)-1])
}

// The answer's key fields are rendered in parts now (the name in the
// entry, owner, plan and scopes in a shape shared with like keys, the
// metadata interned): for names, ids, plans, scopes and metadata that JSON
// escapes, HTML-escapes, compacts or replaces, it is byte for byte what
// one json.Marshal of the object gave; and two keys that share a shape
// keep their own fields. Token Meta is the metadata as read.
func TestAnswerKeyFieldsAsMarshaled(t *testing.T) {
	in := time.Date(2031, 2, 3, 4, 5, 6, 789, time.FixedZone("X", 3600))
	cases := []*keys.Key{
		{ID: "k1", AccountID: "acct", Name: "plain", Scopes: []string{"read", "write"}, Meta: json.RawMessage(`{"team":"core"}`)},
		{ID: "k2", AccountID: "acct", Name: `<b>&"quotes"\ ` + "\u2028\u2029\x01\xff", Scopes: nil, Meta: json.RawMessage(` { "a" : "<&>" , "n" : 1.50 } `), ExpiresAt: &in},
		{ID: "k3", AccountID: "acct", Name: "", Scopes: []string{}, Meta: json.RawMessage(`{"big":1e999}`)},
		{ID: `id"<&>`, AccountID: `acct<"x">`, Name: "odd ids", Scopes: []string{"a<b", "é"}, Meta: json.RawMessage(`not json`)},
		{ID: "k5", AccountID: "acct", Name: "same shape as k1", Scopes: []string{"read", "write"}, Meta: json.RawMessage(`{"team":"core"}`)},
	}
	cat, err := plans.New([]plans.Plan{{ID: "pro", Name: "Pro", Price: "$1", RatePerSecond: 10, Burst: 10, MonthlyQuota: 100, MaxKeys: 10}})
	if err != nil {
		t.Fatal(err)
	}
	loader := memLoader{}
	var secrets []string
	for _, k := range cases {
		s, _ := keys.Generate()
		secrets = append(secrets, s.Reveal())
		loader[s.Hash()] = &verify.Record{Key: k, PlanID: "pro"}
	}
	v, err := verify.New(verify.Config{Loader: loader, Plans: cat})
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range cases {
		var res verify.Result
		v.Verify(context.Background(), &verify.Request{Key: secrets[i], Cost: 1}, &res)
		if res.Entry == nil {
			t.Fatalf("key %q: %s, no entry", k.ID, res.Code)
		}
		got := string(verify.AppendJSON(nil, &res))
		want := oldKeyJSON(t, k, "pro")
		if !strings.Contains(got, ","+want+",\"ratelimit\"") {
			t.Errorf("key %q: answer\n%s\ndoes not hold, as marshaled,\n%s", k.ID, got, want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("key %q: answer is not JSON: %s", k.ID, got)
		}
		meta, _ := keys.ReadableMeta(k.Meta)
		if string(res.Entry.Meta()) != string(meta) {
			t.Errorf("key %q: token meta %s, want %s as read", k.ID, res.Entry.Meta(), meta)
		}
		if res.Entry.AccountID() != k.AccountID || res.Entry.PlanID() != "pro" || strings.Join(res.Entry.Scopes(), ",") != strings.Join(k.Scopes, ",") {
			t.Errorf("key %q: entry has account %q plan %q scopes %q", k.ID, res.Entry.AccountID(), res.Entry.PlanID(), res.Entry.Scopes())
		}
	}
}
