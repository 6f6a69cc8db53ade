package keyhold

import (
	"crypto/rand"

	"github.com/oklog/ulid/v2"
)

// NewID returns a new sortable, application-made identifier (a ULID in
// lower case). Ids are text so that one set of migrations runs on SQLite and
// PostgreSQL alike.
func NewID() string {
	return ulidLower(ulid.MustNew(ulid.Now(), rand.Reader).String())
}

func ulidLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}
