package keys

import (
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// redacted is what every textual form of an API key's Secret except Reveal
// shows; rootRedacted the same for a root key, so that a log line still
// says which kind of key was (nearly) leaked.
const (
	redacted     = Prefix + "…[redacted]"
	rootRedacted = RootPrefix + "…[redacted]"
)

// redacted returns the placeholder of s's kind.
func (s Secret) redacted() string {
	if len(s) >= prefixLen && string(s[:prefixLen]) == RootPrefix {
		return rootRedacted
	}
	return redacted
}

// The methods below make every generic way of printing or encoding a Secret
// print redacted instead of the key, so that a Secret passed by mistake to
// a logger, an error or a JSON encoder does no harm. What they cannot
// protect: a Secret converted to string (use Reveal, which is greppable,
// when that is meant), a Secret in an unexported struct field printed with
// %v (fmt cannot call methods on unexported fields and prints the raw
// string), and a Secret used as a JSON map key (encoding/json writes
// string-kinded keys as they are).

var (
	_ fmt.Stringer           = Secret("")
	_ fmt.GoStringer         = Secret("")
	_ fmt.Formatter          = Secret("")
	_ slog.LogValuer         = Secret("")
	_ json.Marshaler         = Secret("")
	_ encoding.TextMarshaler = Secret("")
)

// String returns "kh_live_…[redacted]" ("kh_root_…[redacted]" for a root
// key), never the key. Use Display to
// identify a key to a person and Reveal to show the key itself.
func (s Secret) String() string { return s.redacted() }

// GoString returns the same placeholder as String. (Format takes precedence
// for %#v; GoString covers callers that use fmt.GoStringer directly.)
func (s Secret) GoString() string { return s.redacted() }

// Format implements fmt.Formatter so that every verb prints the placeholder
// (%q quoted, everything else as is; width and flags are ignored). String
// alone is not enough: for a verb fmt considers wrong for a string it prints
// the raw value, so %d would give "%!d(keys.Secret=kh_live_…)" with the key.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s.redacted())
		return
	}
	_, _ = io.WriteString(f, s.redacted())
}

// LogValue implements slog.LogValuer: a Secret logged as an attribute shows
// the placeholder with every handler.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.redacted()) }

// MarshalJSON implements json.Marshaler: a Secret in a struct encoded as
// JSON (an API response, a debug dump) becomes the placeholder. Responses
// that must carry the key put Reveal's result in a string field instead.
func (s Secret) MarshalJSON() ([]byte, error) {
	return []byte(`"` + s.redacted() + `"`), nil
}

// MarshalText implements encoding.TextMarshaler, which encoding/xml and most
// other encoders consult, with the placeholder.
func (s Secret) MarshalText() ([]byte, error) {
	return []byte(s.redacted()), nil
}

// RedactText returns s with every key-shaped run replaced by its prefix and
// "…[redacted]": Prefix or RootPrefix followed by one or more base62
// characters, whether or not the rest would pass Parse. It is for text that
// came from a client and is about to be logged or shown (a request path, a
// query, a method): a key pasted into a URL by mistake, even cut short,
// should not reach the logs.
//
// The display form "kh_live_…o5p6" is left alone (an ellipsis is not
// base62). s is returned as is, without allocating, when it holds no key.
func RedactText(s string) string {
	var b []byte // nil until the first key is found
	last := 0    // s[:last] is already in b
	for i := 0; i+len(Prefix) < len(s); {
		j := indexPrefix(s[i:])
		if j < 0 {
			break
		}
		start := i + j
		end := start + len(Prefix)
		for end < len(s) && isBase62[s[end]] {
			end++
		}
		if end == start+len(Prefix) {
			i = start + 1 // a prefix with no key after it
			continue
		}
		b = append(b, s[last:start+len(Prefix)]...)
		b = append(b, "…[redacted]"...)
		last, i = end, end
	}
	if b == nil {
		return s
	}
	return string(append(b, s[last:]...))
}

// indexPrefix returns the index of the first Prefix or RootPrefix in s, or
// -1. Both share "kh_" and are the same length, which RedactText relies on.
func indexPrefix(s string) int {
	for off := 0; ; {
		j := strings.Index(s[off:], "kh_")
		if j < 0 {
			return -1
		}
		at := off + j
		if rest := s[at:]; strings.HasPrefix(rest, Prefix) || strings.HasPrefix(rest, RootPrefix) {
			return at
		}
		off = at + 1
	}
}
