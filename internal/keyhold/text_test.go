package keyhold_test

import (
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/keyhold"
)

func TestCheckText(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string // want: "" for accepted, else part of the message
	}{
		{"plain", "Production EU", ""},
		{"empty", "", ""},
		{"accents and dashes", "Café – Zürich", ""},
		{"right-to-left letters", "מפתח ייצור مفتاح", ""},
		{"CJK", "日本の鍵", ""},
		{"emoji", "deploy 🚀", ""},
		{"combining accent", "Cafe\u0301", ""},
		{"no-break space", "a\u00a0b", ""},
		{"replacement character typed", "a\ufffdb", ""},
		{"LRE", "a\u202ab", "(U+202A)"},
		{"RLE", "a\u202bb", "(U+202B)"},
		{"PDF", "a\u202cb", "(U+202C)"},
		{"LRO", "a\u202db", "(U+202D)"},
		{"RLO", "invoice\u202efdp.exe", "(U+202E)"},
		{"LRI", "a\u2066b", "(U+2066)"},
		{"RLI", "a\u2067b", "(U+2067)"},
		{"FSI", "a\u2068b", "(U+2068)"},
		{"PDI", "a\u2069b", "(U+2069)"},
		{"zero-width space", "a\u200bb", "(U+200B)"},
		{"zero-width non-joiner", "a\u200cb", "(U+200C)"},
		{"zero-width joiner", "a\u200db", "(U+200D)"},
		{"left-to-right mark", "a\u200eb", "(U+200E)"},
		{"right-to-left mark", "a\u200fb", "(U+200F)"},
		{"line separator", "a\u2028b", "(U+2028)"},
		{"paragraph separator", "a\u2029b", "(U+2029)"},
		{"byte order mark", "\ufeffa", "(U+FEFF)"},
		{"word joiner", "a\u2060b", "(U+2060)"},
		{"soft hyphen", "a\u00adb", "(U+00AD)"},
		{"Arabic letter mark", "a\u061cb", "(U+061C)"},
		{"tag", "a\U000E0041b", "(U+E0041)"},
		{"NUL", "a\x00b", "(U+0000)"},
		{"tab", "a\tb", "(U+0009)"},
		{"newline", "a\nb", "(U+000A)"},
		{"escape", "a\x1b[2Jb", "(U+001B)"},
		{"DEL", "a\x7fb", "(U+007F)"},
		{"C1 NEL", "a\u0085b", "(U+0085)"},
		{"C1 CSI", "a\u009bb", "(U+009B)"},
		{"invalid UTF-8", "a\xffb", "not valid UTF-8"},
		{"truncated UTF-8", "a\xe2\x80", "not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := keyhold.CheckText("The key name", tc.in)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckText(%q) = %v, want nil", tc.in, err)
				}
				return
			}
			msg := keyhold.ErrorMessage(err)
			if keyhold.ErrorCode(err) != keyhold.EINVALID || !strings.HasPrefix(msg, "The key name ") || !strings.Contains(msg, tc.want) {
				t.Errorf("CheckText(%q) = %v, want EINVALID naming the field and %q", tc.in, err, tc.want)
			}
		})
	}
}
