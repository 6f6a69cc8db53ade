package keys

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Key format: Prefix, then randLen base62 characters from crypto/rand, then
// sumLen base62 characters of the CRC32 (IEEE) of everything before them,
// most significant digit first and left-padded with '0'. This is the scheme
// GitHub uses for its tokens: the prefix makes a leaked key easy to find with
// a secret scanner, and the checksum lets Parse reject a mistyped or invented
// key without a database lookup.
const (
	// Prefix starts every API key. It is also the visible part of Display.
	Prefix = "kh_live_"
	// RootPrefix starts the management API's root keys (DESIGN "Management
	// API"): the same scheme as API keys under another prefix, so that
	// neither kind can ever be taken for the other (see Format).
	RootPrefix = "kh_root_"
	// Len is the length in bytes of every well-formed key of either kind.
	Len = prefixLen + randLen + sumLen

	prefixLen = len(Prefix)
	randLen   = 32 // 32 × log2(62) ≈ 190 bits of entropy
	sumLen    = 6  // 62^6 > 2^32, so any CRC32 fits
	bodyLen   = prefixLen + randLen
)

// Both prefixes have prefixLen bytes: Len, Display and RedactText rely on
// it. This line stops the build if one of them changes length.
var _ [0]struct{} = [len(RootPrefix) - prefixLen]struct{}{}

// Format is one kind of key: its prefix. Every kind shares the generator,
// the checksum and the hash; only the prefix differs, and it is covered by
// the checksum, so a key of one kind with its prefix swapped for another's
// fails Parse as well as the prefix check. Live is API keys, Root is root
// keys.
type Format struct{ prefix string }

// The kinds of key.
var (
	// Live is API keys, which /v1/verify answers for.
	Live = Format{prefix: Prefix}
	// Root is root keys, which authenticate the management API.
	Root = Format{prefix: RootPrefix}
)

// Prefix returns the prefix that starts every key of the format.
func (f Format) Prefix() string { return f.prefix }

// alphabet is base62 in ASCII order: digits, upper case, lower case.
const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// rejectAbove is the largest multiple of 62 that fits in a byte (62 × 4).
// Random bytes at or above it are discarded, so b%62 is uniform.
const rejectAbove = 248

// isBase62 reports, for every byte, whether it is in alphabet.
var isBase62 = func() (t [256]bool) {
	for i := range len(alphabet) {
		t[alphabet[i]] = true
	}
	return t
}()

// ErrMalformed is returned by Parse for any string that is not a well-formed
// key: wrong length, wrong prefix, a byte outside base62, or a checksum that
// does not match. It deliberately says nothing about which check failed, and
// never includes the input, so it is safe to log and to show to a caller.
var ErrMalformed = errors.New("keys: malformed API key")

// Secret is a full plaintext API key, such as returned by Generate or Parse.
//
// The plaintext is shown to its owner exactly once, through Reveal, and is
// otherwise only ever hashed (see Hash) for storage and lookup. Every other
// way of turning a Secret into text (fmt verbs, slog, encoding/json,
// encoding.TextMarshaler) prints a redacted placeholder; see String.
//
// Keys are long-lived bearer credentials: one that reaches a log line, an
// error message, a trace or a JSON dump is as good as published, because logs
// are copied, shipped and kept far more widely than the key database. The
// type therefore makes the safe thing the default and the dangerous thing
// explicit and easy to grep for (Reveal).
type Secret string

// Generate returns a new random API key (Live.Generate). The error is for
// completeness: since Go 1.24 crypto/rand crashes the program rather than
// return an error, so in practice it is always nil.
func Generate() (Secret, error) { return Live.Generate() }

// Generate returns a new random key of the format; see the function
// Generate.
func (f Format) Generate() (Secret, error) {
	return generate(rand.Reader, f.prefix)
}

// generate builds a key from the bytes of r, discarding bytes that would bias
// the base62 draw (rejection sampling).
func generate(r io.Reader, prefix string) (Secret, error) {
	var key [Len]byte
	copy(key[:], prefix)

	// A byte is kept with probability 248/256, so one 40-byte read almost
	// always fills the 32 characters; the loop reads again if it does not.
	var buf [40]byte
	n := prefixLen
	for n < bodyLen {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", fmt.Errorf("keys: read random bytes: %w", err)
		}
		for _, b := range buf {
			if b >= rejectAbove {
				continue
			}
			key[n] = alphabet[b%62]
			n++
			if n == bodyLen {
				break
			}
		}
	}
	putChecksum(key[bodyLen:], checksum(key[:bodyLen]))
	return Secret(key[:]), nil
}

// Parse returns s as a Secret if it is a well-formed API key
// (Live.Parse): exactly Len bytes, starting with Prefix, base62 after it,
// and a matching checksum. Otherwise it returns ErrMalformed; a root key is
// malformed here.
//
// Parse does no I/O and does not allocate; its cost is bounded by Len, since
// any input of another length is refused before its bytes are read. It is
// meant to run before any lookup, on untrusted input.
func Parse(s string) (Secret, error) { return Live.Parse(s) }

// Parse is the function Parse for keys of the format: a key of another
// format is ErrMalformed.
func (f Format) Parse(s string) (Secret, error) {
	return parse(s, f.prefix)
}

func parse(s, prefix string) (Secret, error) {
	if len(s) != Len || s[:prefixLen] != prefix {
		return "", ErrMalformed
	}
	for i := prefixLen; i < Len; i++ {
		if !isBase62[s[i]] {
			return "", ErrMalformed
		}
	}
	var want [sumLen]byte
	putChecksum(want[:], checksum(s[:bodyLen]))
	if s[bodyLen:] != string(want[:]) {
		return "", ErrMalformed
	}
	return Secret(s), nil
}

// checksum is crc32.ChecksumIEEE(s). It is written out so that a string
// need not be converted to []byte, which would allocate (crc32 lets its
// argument escape); the textbook table-driven loop is fast enough for 40
// bytes.
func checksum[T string | []byte](s T) uint32 {
	tab := crc32.IEEETable
	crc := ^uint32(0)
	for i := range len(s) {
		crc = tab[byte(crc)^s[i]] ^ (crc >> 8)
	}
	return ^crc
}

// putChecksum writes sum in base62 into dst (sumLen bytes), most significant
// digit first, left-padded with '0'.
func putChecksum(dst []byte, sum uint32) {
	for i := sumLen - 1; i >= 0; i-- {
		dst[i] = alphabet[sum%62]
		sum /= 62
	}
}

// Hash returns the SHA-256 of the key, the only form in which keys are
// stored and looked up. It does not allocate for a key of length Len.
func (s Secret) Hash() [32]byte {
	if len(s) == Len {
		// A fixed-size copy stays on the stack; []byte(s) of 46 bytes
		// would not.
		var b [Len]byte
		copy(b[:], s)
		return sha256.Sum256(b[:])
	}
	return sha256.Sum256([]byte(s))
}

// Display returns the form in which a key is listed after creation: its
// prefix, an ellipsis and the last four characters, e.g. "kh_live_…o5p6"
// or "kh_root_…o5p6".
// The last four characters are part of the checksum, so they reveal nothing
// of the random part. A value that is not Len bytes long (never the case for
// a Secret from Generate or Parse) is shown as the prefix and ellipsis only,
// since its last four characters could be most of it.
func (s Secret) Display() string {
	if len(s) != Len {
		return Prefix + "…"
	}
	return string(s[:prefixLen]) + "…" + string(s[Len-4:])
}

// Reveal returns the plaintext key. It is the one deliberate way to show a
// key: call it only to display a new or rotated key to its owner once, or to
// hand it to a client that sends it. Never pass its result to a logger, an
// error, a URL or a metric.
func (s Secret) Reveal() string {
	return string(s)
}
