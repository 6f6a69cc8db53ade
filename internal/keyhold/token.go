package keyhold

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// NewToken returns a token for a link (invitations, and the links auth
// mails): 32 random bytes from crypto/rand, base64url as the link carries
// it, and its hash as stored (TokenHash). It lives here so that auth and
// team, neither of which may import the other both ways, make tokens one
// way.
func NewToken() (token, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, TokenHash(token)
}

// TokenHash is the stored form of a token: hex SHA-256. A token is 256
// random bits, so a plain hash is enough: nothing is there to guess.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// MaxTokenLen bounds a token taken from a URL before it is hashed or
// looked up (a NewToken token is 43 characters).
const MaxTokenLen = 64
