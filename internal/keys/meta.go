package keys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/keyhold/keyhold/internal/keyhold"
)

// Metadata is a small JSON object its owner attaches to a key; /v1/verify
// hands it to the API backend as is. It is written once, checked by
// CheckMeta, and stored as compact JSON text (Key.Meta). Reads never decode
// it into Go values: a value stored before today's rules (or by hand) is
// shown as stored on pages and made readable by ReadableMeta for verify,
// so it can never make a page or a verification fail.

// MaxExactInteger is the largest integer metadata may hold: 2^53, past
// which a JSON number read as a float64 (JavaScript, Go's encoding/json
// into any) silently becomes another integer.
const MaxExactInteger = 1 << 53

// ParseMeta parses a JSON object of at most MaxMetaBytes that CheckMeta
// accepts; empty is none. Numbers are kept as json.Number, so what the
// user typed is what is stored. Errors: EINVALID.
func ParseMeta(s string) (map[string]any, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return map[string]any{}, nil
	}
	if err := CheckMeta([]byte(s)); err != nil {
		return nil, err
	}
	return decodeMeta([]byte(s)) // CheckMeta decoded it: no error
}

// CheckMeta reports whether raw is metadata Keyhold would store: a JSON
// object of at most MaxMetaBytes whose numbers read back as written (see
// checkNumber) and whose field names and strings hold no invisible or
// control character (keyhold.CheckText). Errors: EINVALID, naming the
// offending field.
func CheckMeta(raw []byte) error {
	if len(raw) > MaxMetaBytes {
		return keyhold.Errorf(keyhold.EINVALID, "Metadata must be at most %d bytes of JSON.", MaxMetaBytes)
	}
	m, err := decodeMeta(raw)
	if err != nil {
		return keyhold.Errorf(keyhold.EINVALID, `Metadata must be a JSON object, like {"team": "billing"}.`)
	}
	return checkValue("", m, true)
}

// encodeMeta turns settings' metadata into the compact JSON text stored
// with the key (object keys sorted, as encoding/json writes maps), after
// checking it with CheckMeta. nil is the empty object.
func encodeMeta(m map[string]any) (json.RawMessage, error) {
	if m == nil {
		return json.RawMessage(`{}`), nil
	}
	// json.Marshal fails on what JSON cannot say (NaN, ±Inf, a json.Number
	// that is no number); find it first, to name the field.
	if err := checkGoValue("", m); err != nil {
		return nil, err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, &keyhold.Error{Code: keyhold.EINVALID, Err: err,
			Message: `Metadata must be a JSON object of strings, numbers, booleans, lists and objects.`}
	}
	if err := CheckMeta(b); err != nil {
		return nil, err
	}
	return b, nil
}

// ReadableMeta returns stored metadata in a form every JSON client reads
// as it was meant, and whether that differs from stored: a number that
// fails checkNumber becomes a string holding its literal (the value is
// kept, and the answer still decodes in Go and JavaScript), and text that
// is no JSON object becomes {}. The other fields are left as stored.
func ReadableMeta(stored []byte) (json.RawMessage, bool) {
	m, err := decodeMeta(stored)
	if err != nil {
		return json.RawMessage(`{}`), true
	}
	// Only numbers can make the answer unreadable; text that today's rules
	// refuse (written before them) is still valid JSON and is kept.
	if checkValue("", m, false) == nil {
		return bytes.TrimSpace(stored), false
	}
	b, err := json.Marshal(stringifyNumbers(m))
	if err != nil { // cannot happen: every number is now a string
		return json.RawMessage(`{}`), true
	}
	return b, true
}

// decodeMeta decodes exactly one JSON object, keeping numbers as literals.
func decodeMeta(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("keys: metadata is null")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("keys: metadata has more than one value")
	}
	return m, nil
}

// checkValue checks a decoded value (numbers as json.Number) at path:
// its numbers always, and with text also its field names and strings,
// which pages show to people (keyhold.CheckText).
func checkValue(path string, v any, text bool) error {
	switch v := v.(type) {
	case json.Number:
		return checkNumber(path, string(v))
	case string:
		if text {
			return keyhold.CheckText(fmt.Sprintf("Metadata field %q", path), v)
		}
	case map[string]any:
		for _, k := range sortedKeys(v) {
			if text {
				if err := keyhold.CheckText(fmt.Sprintf("Metadata field name %q", join(path, k)), k); err != nil {
					return err
				}
			}
			if err := checkValue(join(path, k), v[k], text); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range v {
			if err := checkValue(fmt.Sprintf("%s[%d]", path, i), e, text); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkGoValue finds, in metadata built in Go, what json.Marshal refuses
// or would write as a number that does not read back.
func checkGoValue(path string, v any) error {
	switch v := v.(type) {
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return metaError(path, fmt.Sprint(v), "is not a finite number")
		}
	case float32:
		return checkGoValue(path, float64(v))
	case json.Number:
		return checkNumber(path, string(v))
	case map[string]any:
		for _, k := range sortedKeys(v) {
			if err := checkGoValue(join(path, k), v[k]); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range v {
			if err := checkGoValue(fmt.Sprintf("%s[%d]", path, i), e); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkNumber accepts a JSON number literal only if a float64 reader gets
// back the value written: it must be within float64's range (1e999 is
// not; encoding/json refuses it, so the answer of every verify of the key
// would fail to decode), must not underflow to zero (1e-400 reads as 0),
// and an integer literal must be at most MaxExactInteger in magnitude
// (9007199254740993 reads as ...992; IDs that large belong in strings).
func checkNumber(path, lit string) error {
	f, err := strconv.ParseFloat(lit, 64)
	switch {
	case err != nil && errors.Is(err, strconv.ErrRange):
		return metaError(path, lit, "is out of range for a number")
	case err != nil || !isJSONNumber(lit):
		return metaError(path, lit, "is not a JSON number")
	case f == 0 && strings.ContainsAny(mantissa(lit), "123456789"):
		return metaError(path, lit, "is so small it reads back as 0")
	case !strings.ContainsAny(lit, ".eE") && !exactInteger(lit):
		return metaError(path, lit, fmt.Sprintf("is an integer too large to read back exactly (the limit is %d)", int64(MaxExactInteger)))
	}
	return nil
}

// exactInteger reports whether an integer literal is within
// ±MaxExactInteger. It compares the integer itself: as a float64,
// 2^53+1 rounds to 2^53 and would pass.
func exactInteger(lit string) bool {
	n, err := strconv.ParseInt(lit, 10, 64)
	return err == nil && n <= MaxExactInteger && n >= -MaxExactInteger
}

// isJSONNumber reports whether lit has JSON's number syntax, which
// strconv.ParseFloat is laxer than (it takes "Inf", "0x1p3", "1_0").
func isJSONNumber(lit string) bool {
	return json.Valid([]byte(lit)) && lit != "" && (lit[0] == '-' || (lit[0] >= '0' && lit[0] <= '9'))
}

// mantissa is a number literal without its exponent.
func mantissa(lit string) string {
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		return lit[:i]
	}
	return lit
}

// metaError names the field, what it holds and why that cannot be stored.
func metaError(path, value, problem string) error {
	value = truncate(value, 40)
	return keyhold.Errorf(keyhold.EINVALID, "Metadata field %q holds %s, which %s. Write it as a string, like %q, to keep it exactly.",
		path, value, problem, value)
}

// sortedKeys orders an object's fields, so that of several bad fields the
// message always names the same one.
func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// join names a field inside an object: a.b.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// stringifyNumbers replaces, in a decoded value, each number that fails
// checkNumber with its literal as a string.
func stringifyNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if checkNumber("", string(v)) != nil {
			return string(v)
		}
	case map[string]any:
		for k, e := range v {
			v[k] = stringifyNumbers(e)
		}
	case []any:
		for i, e := range v {
			v[i] = stringifyNumbers(e)
		}
	}
	return v
}
