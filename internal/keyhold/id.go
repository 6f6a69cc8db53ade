package keyhold

import (
	"strings"

	"github.com/oklog/ulid/v2"
)

// NewID returns a new sortable, application-made identifier (a ULID in
// lower case). Ids are text so that one set of migrations runs on SQLite and
// PostgreSQL alike. Ids made in the same millisecond still sort in the order
// they were made (monotonic entropy), so "newest first" is stable. Ids are
// not secrets: nothing relies on them being unguessable.
func NewID() string {
	return strings.ToLower(ulid.Make().String())
}
