package keys_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
)

// invisibles are characters that change how text reads without being
// seen: bidirectional overrides and isolates, zero-width characters, line
// and paragraph separators, the byte order mark, C0 and C1 controls, and
// other format characters (soft hyphen, Arabic letter mark, tags).
var invisibles = map[string]rune{
	"LRE": 0x202A, "RLE": 0x202B, "PDF": 0x202C, "LRO": 0x202D, "RLO": 0x202E,
	"LRI": 0x2066, "RLI": 0x2067, "FSI": 0x2068, "PDI": 0x2069,
	"ZWSP": 0x200B, "ZWNJ": 0x200C, "ZWJ": 0x200D, "LRM": 0x200E, "RLM": 0x200F,
	"LINE SEPARATOR": 0x2028, "PARAGRAPH SEPARATOR": 0x2029, "BOM": 0xFEFF,
	"NUL": 0x00, "BEL": 0x07, "ESC": 0x1B, "DEL": 0x7F, "NEL": 0x85, "CSI": 0x9B,
	"SOFT HYPHEN": 0xAD, "ARABIC LETTER MARK": 0x061C, "WORD JOINER": 0x2060, "TAG A": 0xE0041,
}

// Key names, scopes and metadata are what an operator (and the owner)
// reads to tell keys apart; a right-to-left override makes "prod‮gnp.exe"
// read as "prodexe.png". Every writer goes through the key service, which
// refuses them with a message naming the field.
func TestKeyTextRefusesInvisibleCharacters(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	acct := f.MustAccount(t, "ada@example.com")
	actor := audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}
	k, _ := f.MustKey(t, acct, "k")
	for name, r := range invisibles {
		s := "pay" + string(r) + "ments"
		for _, tc := range []struct {
			field, want string
			st          keys.Settings
		}{
			{"name", "key name", keys.Settings{Name: s}},
			{"scope", "scope", keys.Settings{Name: "k", Scopes: []string{"read", s}}},
			{"meta key", `Metadata field`, keys.Settings{Name: "k", Meta: map[string]any{s: "x"}}},
			{"meta string", `Metadata field "team"`, keys.Settings{Name: "k", Meta: map[string]any{"team": s}}},
			{"nested meta string", `Metadata field "a.b[0]"`, keys.Settings{Name: "k", Meta: map[string]any{"a": map[string]any{"b": []any{s}}}}},
		} {
			t.Run(name+" in "+tc.field, func(t *testing.T) {
				check := func(op string, err error) {
					t.Helper()
					msg := keyhold.ErrorMessage(err)
					if keyhold.ErrorCode(err) != keyhold.EINVALID || !strings.Contains(msg, tc.want) || !strings.Contains(msg, "invisible or control character") {
						t.Errorf("%s: %v, want EINVALID naming %q and the invisible character", op, err, tc.want)
					}
				}
				_, _, err := f.svc.Create(ctx, actor, acct, tc.st)
				check("create", err)
				_, err = f.svc.Update(ctx, actor, acct, k.ID, tc.st)
				check("update", err)
			})
		}
	}
	// What stays allowed: letters of any script, emoji, punctuation.
	for _, name := range []string{"Café – Zürich", "מפתח ייצור", "مفتاح", "日本の鍵", "deploy 🚀", "a-b_c.d (2)"} {
		if _, err := f.svc.Update(ctx, actor, acct, k.ID, keys.Settings{Name: name, Meta: map[string]any{"note": name}}); err != nil {
			t.Errorf("name %q: %v", name, err)
		}
	}
	if ks, _ := f.svc.List(ctx, acct); len(ks) != 1 {
		t.Errorf("refused creates left %d keys", len(ks))
	}
}
