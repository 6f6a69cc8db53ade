package keys

import (
	"errors"
	"testing"
)

// TestParseRefusesNonBase62EvenWithMatchingChecksum: the checksum is not
// the only gate. A key whose random part holds a byte outside base62 is
// refused even when its checksum was computed for exactly that body, as
// anyone forging keys can do. TestParseRejects only changes valid keys, so
// the checksum alone refused all of its cases and a Parse that skipped the
// alphabet check (a key with '_' or NUL reaching the lookup, the logs and
// the secret scanner's pattern) still passed.
func TestParseRefusesNonBase62EvenWithMatchingChecksum(t *testing.T) {
	valid := knownKeys[0]
	tests := []struct {
		name string
		at   int // index in the key of the byte replaced
		b    byte
	}{
		{"underscore first after the prefix", len(Prefix), '_'},
		{"dash in the middle", 20, '-'},
		{"NUL last before the checksum", bodyLen - 1, 0},
		{"space", 30, ' '},
		{"high byte", 25, 0xff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := valid[:tt.at] + string([]byte{tt.b}) + valid[tt.at+1:bodyLen]
			forged := body + refChecksum(body)
			if len(forged) != Len {
				t.Fatalf("forged key is %d bytes, want %d", len(forged), Len)
			}
			if _, err := Parse(forged); !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse(%q) = %v, want ErrMalformed", forged, err)
			}
		})
	}
	// The control: the same construction with a base62 byte is accepted, so
	// the cases above fail on the alphabet and not on the checksum.
	body := valid[:20] + "Z" + valid[21:bodyLen]
	if _, err := Parse(body + refChecksum(body)); err != nil {
		t.Errorf("a base62 body with its checksum was refused: %v", err)
	}
}
