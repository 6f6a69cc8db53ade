package verify

import (
	"time"

	"github.com/keyhold/keyhold/internal/quota"
)

// Window is a quota window; the rule that picks it is quota's, shared with
// the store and the pages.
type Window = quota.Window

// windowAt is quota.WindowAt.
func windowAt(now time.Time, period Window) Window { return quota.WindowAt(now, period) }
