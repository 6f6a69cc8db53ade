package keys

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"hash/crc32"
	"io"
	"math/big"
	"regexp"
	"strings"
	"testing"
)

// knownKeys are valid keys whose checksums were computed outside Go (Python's
// zlib.crc32 and a hand-written base62 encoder), so they pin the format
// independently of this package's code.
var knownKeys = []string{
	"kh_live_abcdefghijklmnopqrstuvwxyz0123450Qkiwo",
	"kh_live_000000000000000000000000000000003u3NTO",
	"kh_live_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz2PBZEm",
	"kh_live_0123456789ABCDEFGHIJKLMNOPQRSTUV0lbrlJ",
}

// keyShape is the format without the checksum, for reference checks.
var keyShape = regexp.MustCompile(`^kh_live_[0-9A-Za-z]{38}$`)

// refChecksum computes the 6-character checksum of body independently of
// the package: crc32.ChecksumIEEE, then math/big's base 62, whose alphabet
// is 0-9a-zA-Z, mapped to ours (0-9A-Za-z) by swapping case.
func refChecksum(body string) string {
	sum := crc32.ChecksumIEEE([]byte(body))
	digits := new(big.Int).SetUint64(uint64(sum)).Text(62)
	swapped := strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z':
			return r - 'a' + 'A'
		case 'A' <= r && r <= 'Z':
			return r - 'A' + 'a'
		}
		return r
	}, digits)
	return strings.Repeat("0", 6-len(swapped)) + swapped
}

// refValid is a reference implementation of the format check.
func refValid(s string) bool {
	return keyShape.MatchString(s) && s[40:] == refChecksum(s[:40])
}

func mustGenerate(tb testing.TB) Secret {
	tb.Helper()
	s, err := Generate()
	if err != nil {
		tb.Fatalf("Generate: %v", err)
	}
	return s
}

func TestKnownAnswer(t *testing.T) {
	for _, key := range knownKeys {
		t.Run(key[len(Prefix):bodyLen], func(t *testing.T) {
			if got, want := refChecksum(key[:bodyLen]), key[bodyLen:]; got != want {
				t.Fatalf("reference checksum = %q, want %q", got, want)
			}
			var got [sumLen]byte
			putChecksum(got[:], checksum(key[:bodyLen]))
			if string(got[:]) != key[bodyLen:] {
				t.Errorf("checksum = %q, want %q", got, key[bodyLen:])
			}
			if got, want := checksum(key[:bodyLen]), crc32.ChecksumIEEE([]byte(key[:bodyLen])); got != want {
				t.Errorf("checksum = %#x, crc32.ChecksumIEEE = %#x", got, want)
			}
			s, err := Parse(key)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if s.Reveal() != key {
				t.Errorf("Reveal = %q, want %q", s.Reveal(), key)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	const n = 100_000
	seen := make(map[Secret]struct{}, n)
	for range n {
		s := mustGenerate(t)
		k := s.Reveal()
		if len(k) != Len || Len != 46 {
			t.Fatalf("len = %d, want 46", len(k))
		}
		if !strings.HasPrefix(k, "kh_live_") {
			t.Fatalf("missing prefix")
		}
		if !keyShape.MatchString(k) {
			t.Fatalf("key contains a byte outside base62")
		}
		if k[bodyLen:] != refChecksum(k[:bodyLen]) {
			t.Fatalf("checksum does not match the reference")
		}
		p, err := Parse(k)
		if err != nil {
			t.Fatalf("Parse(generated key) = %v", err)
		}
		if p != s {
			t.Fatalf("Parse changed the key")
		}
		if _, dup := seen[s]; dup {
			t.Fatalf("Generate returned the same key twice")
		}
		seen[s] = struct{}{}
	}
}

// TestGenerateSpread checks that every base62 character turns up in every
// random position, which a broken sampler (say, one drawing from 0-9 only)
// would not.
func TestGenerateSpread(t *testing.T) {
	var seen [randLen][256]bool
	for range 5_000 {
		k := mustGenerate(t).Reveal()
		for i := range randLen {
			seen[i][k[len(Prefix)+i]] = true
		}
	}
	for i := range randLen {
		for _, c := range []byte(alphabet) {
			if !seen[i][c] {
				t.Errorf("position %d never held %q in 5000 keys", i, c)
			}
		}
	}
}

// byteReader yields fixed bytes, then an error.
type byteReader struct{ b []byte }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func TestGenerateRejectionSampling(t *testing.T) {
	// Each accepted byte b becomes alphabet[b%62]: 0→'0', 61→'z', 62→'0',
	// 247→'z'. Bytes 248-255 would make '0'-'7' more likely and are skipped.
	accepted := []byte{0, 61, 62, 123, 124, 185, 186, 247}
	wantChars := "0z0z0z0z"
	var src []byte
	var want string
	for len(want) < randLen {
		src = append(src, 248, 255)
		src = append(src, accepted...)
		want += wantChars
	}

	tests := []struct {
		name string
		src  []byte
	}{
		{"interleaved rejects", src},
		// A whole first read of rejects forces a second read.
		{"first read all rejected", append(bytes.Repeat([]byte{255}, 40), append(accepted, bytes.Repeat(accepted, 4)...)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := append(bytes.Clone(tt.src), make([]byte, 80)...)
			s, err := generate(&byteReader{b: src}, Prefix)
			if err != nil {
				t.Fatalf("generate: %v", err)
			}
			k := s.Reveal()
			if got := k[len(Prefix):bodyLen]; got != want {
				t.Errorf("random part = %q, want %q", got, want)
			}
			if _, err := Parse(k); err != nil {
				t.Errorf("Parse: %v", err)
			}
		})
	}
}

func TestGenerateReaderError(t *testing.T) {
	// 40 bytes of rejects, then EOF: generate must report it, not loop or
	// return a partial key.
	s, err := generate(&byteReader{b: bytes.Repeat([]byte{250}, 40)}, Prefix)
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want wrapped io.ErrUnexpectedEOF", err)
	}
	if s != "" {
		t.Errorf("secret = %q, want empty on error", s.Reveal())
	}
}

// TestParseSingleChange changes every position of valid keys to every other
// base62 character and to bytes outside the alphabet; Parse must reject all
// of them. For the random and checksum parts this is guaranteed: CRC32
// detects every error burst of up to 32 bits, so a one-byte change always
// changes the checksum, and the checksum's encoding is unique.
func TestParseSingleChange(t *testing.T) {
	others := []byte{0x00, '\t', '\n', ' ', '+', '-', '/', '=', '_', '~', 0x7f, 0x80, 0xd0, 0xff}
	replacements := append([]byte(alphabet), others...)

	keys := append([]string(nil), knownKeys...)
	for range 200 {
		keys = append(keys, mustGenerate(t).Reveal())
	}
	for _, key := range keys {
		b := []byte(key)
		for i := range Len {
			orig := b[i]
			for _, c := range replacements {
				if c == orig {
					continue
				}
				b[i] = c
				if s, err := Parse(string(b)); !errors.Is(err, ErrMalformed) || s != "" {
					t.Errorf("Parse(%q with [%d]=%q) = %v, want ErrMalformed", key, i, c, err)
				}
			}
			b[i] = orig
		}
	}
}

// TestParseSwapAdjacent swaps each pair of neighbouring, different
// characters. CRC32 catches these too (a burst of at most 16 bits).
func TestParseSwapAdjacent(t *testing.T) {
	keys := append([]string(nil), knownKeys...)
	for range 200 {
		keys = append(keys, mustGenerate(t).Reveal())
	}
	for _, key := range keys {
		for i := len(Prefix); i < Len-1; i++ {
			if key[i] == key[i+1] {
				continue
			}
			b := []byte(key)
			b[i], b[i+1] = b[i+1], b[i]
			if _, err := Parse(string(b)); !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse(%q with %d,%d swapped) = %v, want ErrMalformed", key, i, i+1, err)
			}
		}
	}
}

func TestParseRejects(t *testing.T) {
	valid := knownKeys[0]
	body := valid[len(Prefix):]
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"one char", "k"},
		{"prefix only", Prefix},
		{"45 chars", valid[:Len-1]},
		{"47 chars", valid + "0"},
		{"47 chars, valid key plus checksum char", valid + valid[Len-1:]},
		{"twice", valid + valid},
		{"kh_test_ prefix", "kh_test_" + body},
		{"upper-case prefix", "KH_LIVE_" + body},
		{"no prefix, 46 base62", "khXlive" + body + "0"},
		{"NUL in body", valid[:20] + "\x00" + valid[21:]},
		{"NUL at end", valid[:Len-1] + "\x00"},
		{"invalid UTF-8", valid[:20] + "\xff" + valid[21:]},
		{"Cyrillic a (2 bytes, length 47)", strings.Replace(valid, "a", "а", 1)},
		{"Cyrillic a, length kept 46", strings.Replace(valid, "ab", "а", 1)},
		{"full-width digit", valid[:Len-3] + "０"},
		{"leading space", " " + valid},
		{"trailing space", valid + " "},
		{"trailing newline", valid + "\n"},
		{"trailing CRLF", valid + "\r\n"},
		{"leading space, last char dropped", " " + valid[:Len-1]},
		{"trailing newline, first char dropped", valid[1:] + "\n"},
		{"lower-cased checksum", valid[:bodyLen] + strings.ToLower(valid[bodyLen:])},
		{"checksum of another key", valid[:bodyLen] + knownKeys[1][bodyLen:]},
		{"checksum all zero", valid[:bodyLen] + "000000"},
		{"checksum above 2^32", valid[:bodyLen] + "zzzzzz"},
		{"underscore in body", valid[:20] + "_" + valid[21:]},
		{"4 KiB", strings.Repeat("a", 4096)},
		{"4 KiB starting with a key", valid + strings.Repeat("a", 4096-Len)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.in)
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse = %v, want ErrMalformed", err)
			}
			if s != "" {
				t.Errorf("Parse returned a non-empty Secret on error")
			}
			if err != nil && strings.Contains(err.Error(), body[:8]) {
				t.Errorf("error %q contains the input", err)
			}
		})
	}
}

func TestParseAllocs(t *testing.T) {
	valid := knownKeys[0]
	bad := valid[:Len-1] + "0"
	long := strings.Repeat("a", 4096)
	var sink [32]byte
	tests := []struct {
		name string
		f    func()
	}{
		{"Parse valid", func() { _, _ = Parse(valid) }},
		{"Parse bad checksum", func() { _, _ = Parse(bad) }},
		{"Parse 4 KiB", func() { _, _ = Parse(long) }},
		{"Parse and Hash", func() {
			s, _ := Parse(valid)
			sink = s.Hash()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, tt.f); n != 0 {
				t.Errorf("allocs = %v, want 0", n)
			}
		})
	}
	_ = sink
}

func TestHash(t *testing.T) {
	tests := []struct {
		name string
		in   Secret
	}{
		{"known key", Secret(knownKeys[0])},
		{"generated key", mustGenerate(t)},
		{"empty (zero value)", ""},
		{"not a key", "hello"},
		{"longer than a key", Secret(strings.Repeat("x", 100))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := tt.in.Hash(), sha256.Sum256([]byte(tt.in)); got != want {
				t.Errorf("Hash = %x, want %x", got, want)
			}
		})
	}
	if Secret(knownKeys[0]).Hash() == Secret(knownKeys[1]).Hash() {
		t.Error("different keys hash the same")
	}
}

func TestDisplay(t *testing.T) {
	tests := []struct {
		in   Secret
		want string
	}{
		{Secret(knownKeys[0]), "kh_live_\u2026kiwo"},
		{Secret(knownKeys[1]), "kh_live_…3NTO"},
		{"", "kh_live_…"},
		{"kh_live_short", "kh_live_…"},
	}
	for _, tt := range tests {
		if got := tt.in.Display(); got != tt.want {
			t.Errorf("Display(%q) = %q, want %q", string(tt.in), got, tt.want)
		}
	}
	s := mustGenerate(t)
	if got, want := s.Display(), "kh_live_…"+s.Reveal()[Len-4:]; got != want {
		t.Errorf("Display = %q, want %q", got, want)
	}
}

func TestReveal(t *testing.T) {
	if got := Secret(knownKeys[0]).Reveal(); got != knownKeys[0] {
		t.Errorf("Reveal = %q, want %q", got, knownKeys[0])
	}
}
