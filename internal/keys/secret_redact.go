package keys

import (
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

// redacted is what every textual form of a Secret except Reveal shows.
const redacted = Prefix + "…[redacted]"

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

// String returns "kh_live_…[redacted]", never the key. Use Display to
// identify a key to a person and Reveal to show the key itself.
func (s Secret) String() string { return redacted }

// GoString returns the same placeholder as String. (Format takes precedence
// for %#v; GoString covers callers that use fmt.GoStringer directly.)
func (s Secret) GoString() string { return redacted }

// Format implements fmt.Formatter so that every verb prints the placeholder
// (%q quoted, everything else as is; width and flags are ignored). String
// alone is not enough: for a verb fmt considers wrong for a string it prints
// the raw value, so %d would give "%!d(keys.Secret=kh_live_…)" with the key.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", redacted)
		return
	}
	io.WriteString(f, redacted)
}

// LogValue implements slog.LogValuer: a Secret logged as an attribute shows
// the placeholder with every handler.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler: a Secret in a struct encoded as
// JSON (an API response, a debug dump) becomes the placeholder. Responses
// that must carry the key put Reveal's result in a string field instead.
func (s Secret) MarshalJSON() ([]byte, error) {
	return []byte(`"` + redacted + `"`), nil
}

// MarshalText implements encoding.TextMarshaler, which encoding/xml and most
// other encoders consult, with the placeholder.
func (s Secret) MarshalText() ([]byte, error) {
	return []byte(redacted), nil
}
