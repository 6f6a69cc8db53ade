package keyhold

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Text people type and others read (key names, scopes, metadata, emails)
// must look like what it is. A right-to-left override (U+202E) makes
// "invoice‮fdp.exe" read as "invoiceexe.pdf", a zero-width space makes two
// names that look alike differ, a control character can rewrite a terminal
// line. So every writer of such text checks it with CheckText, here, once.

// Invisible reports whether r changes how text reads without being seen:
// a control character (Unicode category Cc: C0, DEL, C1), a format
// character (Cf: bidirectional embeddings, overrides, isolates and marks,
// zero-width space, joiners, word joiner, byte order mark, soft hyphen,
// tags…), or a line or paragraph separator (U+2028, U+2029).
//
// Cf includes the zero-width joiner and non-joiner that emoji sequences
// and some scripts (Persian, Indic) use; they are refused too, since a
// name that must be told apart from another is better without them.
func Invisible(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}

// CheckText returns an EINVALID error whose message starts with field
// (say "The key name") if s is not valid UTF-8 or contains a character
// Invisible reports; nil otherwise.
func CheckText(field, s string) error {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return Errorf(EINVALID, "%s is not valid UTF-8 text.", field)
			}
		}
		if Invisible(r) {
			return Errorf(EINVALID, "%s contains an invisible or control character (%s); remove it.", field, runeName(r))
		}
	}
	return nil
}

// runeName is U+202E, how people look a character up.
func runeName(r rune) string { return fmt.Sprintf("U+%04X", r) }
