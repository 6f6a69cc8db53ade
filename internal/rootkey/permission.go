package rootkey

import (
	"fmt"
	"slices"
	"strings"

	"github.com/keyhold/keyhold/internal/keyhold"
)

// Permissions a root key may hold (DESIGN "Management API"). Each operation
// of the management API needs one of them.
const (
	AccountsRead  = "accounts.read"
	AccountsWrite = "accounts.write"
	KeysRead      = "keys.read"
	KeysWrite     = "keys.write"
	UsageRead     = "usage.read"
	AuditRead     = "audit.read"
	WebhooksWrite = "webhooks.write"
)

// Permissions lists every permission in the order the console shows them
// and a key's permissions are stored.
var Permissions = []string{AccountsRead, AccountsWrite, KeysRead, KeysWrite, UsageRead, AuditRead, WebhooksWrite}

// CheckPermissions returns perms without duplicates, in the order of
// Permissions, or an EINVALID error (field "permissions") that names the
// first unknown permission, or says that none was given.
func CheckPermissions(perms []string) ([]string, error) {
	if len(perms) == 0 {
		return nil, permissionError("Choose at least one permission.")
	}
	for _, p := range perms {
		if !slices.Contains(Permissions, p) {
			// %q: the value came from a client; quoting keeps a
			// stray character visible.
			return nil, permissionError(fmt.Sprintf("Unknown permission %q: the permissions are %s.", p, strings.Join(Permissions, ", ")))
		}
	}
	out := make([]string, 0, len(perms))
	for _, p := range Permissions {
		if slices.Contains(perms, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

func permissionError(msg string) error {
	var fe keyhold.FieldErrors
	fe.Add("permissions", msg)
	return fe.Err()
}
