package verify

import "github.com/keyhold/keyhold/internal/quota"

// Window is a quota window; the rule that picks it (quota.WindowAt) is
// quota's, shared with the store and the pages.
type Window = quota.Window
