package keys_test

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
)

// Metadata numbers must read back as what was written: a number that
// decodes to no float64 (1e999) used to be stored and then broke every read
// of the key, and an integer past 2^53 reads back as a different one in
// JavaScript and in Go's encoding/json.
func TestMetaNumbersMustRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name, meta string
		field      string // "" when accepted; else what the message names
	}{
		{"small numbers", `{"a":1,"b":-2.5,"c":0.1,"d":0,"e":-0,"f":1e-7}`, ""},
		{"largest exact integer", `{"n":9007199254740992,"m":-9007199254740992}`, ""},
		{"large float", `{"x":1.7976931348623157e308,"y":1e300,"z":1e20}`, ""},
		{"zero with an exponent", `{"z":0e400}`, ""},
		{"overflow", `{"a":1e999}`, `"a"`},
		{"negative overflow", `{"b":-1e999}`, `"b"`},
		{"just past the largest float", `{"c":1.8e308}`, `"c"`},
		{"underflow to zero", `{"tiny":1e-400}`, `"tiny"`},
		{"integer past 2^53", `{"id":9007199254740993}`, `"id"`},
		{"negative integer past 2^53", `{"id":-12345678901234567890}`, `"id"`},
		{"nested", `{"team":"core","limits":{"list":[1,2,1e400]}}`, `"limits.list[2]"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := keys.ParseMeta(tc.meta)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("ParseMeta(%s): %v", tc.meta, err)
				}
				return
			}
			if keyhold.ErrorCode(err) != keyhold.EINVALID {
				t.Fatalf("ParseMeta(%s) = %v, %v; want EINVALID", tc.meta, m, err)
			}
			if msg := keyhold.ErrorMessage(err); !strings.Contains(msg, tc.field) || !strings.Contains(msg, "Metadata") {
				t.Errorf("message %q does not name the field %s", msg, tc.field)
			}
		})
	}
}

// The service checks what it stores itself, whatever built the settings:
// the form goes through ParseMeta, the CLI and tests build maps.
func TestCreateAndUpdateRefuseMetaThatDoesNotRoundTrip(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	acct := f.MustAccount(t, "ada@example.com")
	actor := audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}
	k, _ := f.MustKey(t, acct, "k")
	for name, meta := range map[string]map[string]any{
		"json.Number overflow":   {"a": json.Number("1e999")},
		"json.Number past 2^53":  {"a": json.Number("9007199254740993")},
		"infinite float":         {"a": math.Inf(1)},
		"not a number":           {"a": math.NaN()},
		"int64 past 2^53":        {"a": int64(1) << 60},
		"nested infinite float":  {"a": map[string]any{"b": []any{math.Inf(-1)}}},
		"uint64 past 2^53":       {"a": uint64(math.MaxUint64)},
		"json.Number not number": {"a": json.Number("abc")},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := f.svc.Create(ctx, actor, acct, keys.Settings{Name: "new", Meta: meta})
			if keyhold.ErrorCode(err) != keyhold.EINVALID || !strings.Contains(keyhold.ErrorMessage(err), `"a`) {
				t.Errorf("create: %v, want EINVALID naming the field", err)
			}
			_, err = f.svc.Update(ctx, actor, acct, k.ID, keys.Settings{Name: "k", Meta: meta})
			if keyhold.ErrorCode(err) != keyhold.EINVALID || !strings.Contains(keyhold.ErrorMessage(err), `"a`) {
				t.Errorf("update: %v, want EINVALID naming the field", err)
			}
		})
	}
	if ks, _ := f.svc.List(ctx, acct); len(ks) != 1 {
		t.Errorf("refused creates left %d keys", len(ks))
	}
}
