package keys

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks Parse against the reference implementation: it never
// panics, accepts exactly what refValid accepts, and an accepted key is the
// input unchanged.
func FuzzParse(f *testing.F) {
	for _, k := range knownKeys {
		f.Add(k)
	}
	f.Add("")
	f.Add(Prefix)
	f.Add(knownKeys[0][:Len-1] + "0")
	f.Add("kh_test_" + knownKeys[0][len(Prefix):])
	f.Fuzz(func(t *testing.T, in string) {
		s, err := Parse(in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse error = %v, want ErrMalformed", err)
			}
			if s != "" {
				t.Fatalf("Parse returned %q with an error", s.Reveal())
			}
			if refValid(in) {
				t.Fatalf("Parse rejected a valid key %q", in)
			}
			return
		}
		k := s.Reveal()
		if k != in {
			t.Fatalf("Parse(%q) = %q", in, k)
		}
		if len(k) != 46 || !strings.HasPrefix(k, "kh_live_") {
			t.Fatalf("accepted %q: wrong length or prefix", in)
		}
		for _, c := range []byte(k) {
			if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_') {
				t.Fatalf("accepted %q with byte %q", in, c)
			}
		}
		if !refValid(k) {
			t.Fatalf("accepted %q, which fails the reference checksum", in)
		}
		if s.Hash() != sha256.Sum256([]byte(in)) {
			t.Fatalf("Hash mismatch for %q", in)
		}
	})
}
