// Package team owns accounts as teams: who belongs to an account and with
// which role (memberships), what each role may do (Rules), and invitations.
// Users themselves (email, password, sessions) belong to package auth; keys
// and billing belong to their own packages, which ask Require before they
// change anything.
package team

import (
	"slices"
	"strings"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
)

// Role is what a member may do in an account.
type Role string

// The roles, from most to least power (DESIGN.md "Users, teams and roles").
const (
	Owner     Role = "owner"     // everything, billing, members, the account itself
	Admin     Role = "admin"     // all but removing or demoting owners
	Developer Role = "developer" // keys: create, edit, rotate, revoke; usage
	Billing   Role = "billing"   // billing and usage; no key actions
	Viewer    Role = "viewer"    // read only
)

// Roles lists every role, from most to least power.
var Roles = []Role{Owner, Admin, Developer, Billing, Viewer}

// ParseRole returns the role named s; EINVALID for anything else.
func ParseRole(s string) (Role, error) {
	r := Role(strings.TrimSpace(s))
	if slices.Contains(Roles, r) {
		return r, nil
	}
	return "", keyhold.Errorf(keyhold.EINVALID, "Choose a role: owner, admin, developer, billing or viewer.")
}

// Action is something a member may or may not do in an account.
type Action string

// The actions Rules decides on.
const (
	// ViewAccount is reading the account's pages: keys, usage, billing,
	// members.
	ViewAccount Action = "account.view"
	// ManageKeys is creating, editing, rotating and revoking keys.
	ManageKeys Action = "keys.manage"
	// ManageBilling is Checkout and the billing portal.
	ManageBilling Action = "billing.manage"
	// ManageMembers is inviting, revoking invitations, changing roles and
	// removing members who are not owners.
	ManageMembers Action = "members.manage"
	// ManageOwners is making, demoting or removing an owner.
	ManageOwners Action = "owners.manage"
)

// Rules says which roles may take each action. It is the one table of
// permissions: services ask Require, pages ask Can to hide what would be
// refused, and tests iterate it.
var Rules = map[Action][]Role{
	ViewAccount:   {Owner, Admin, Developer, Billing, Viewer},
	ManageKeys:    {Owner, Admin, Developer},
	ManageBilling: {Owner, Admin, Billing},
	ManageMembers: {Owner, Admin},
	ManageOwners:  {Owner},
}

// Can reports whether role may take action.
func Can(role Role, action Action) bool { return slices.Contains(Rules[action], role) }

// ErrForbidden is the cause of every refusal by Require, for callers that
// test for it with errors.Is.
var ErrForbidden = keyhold.Errorf(keyhold.EFORBIDDEN, "Your role does not allow this.")

// Require returns nil when role may take action, else an EFORBIDDEN error
// whose message names the roles that may.
func Require(role Role, action Action) error {
	if Can(role, action) {
		return nil
	}
	names := make([]string, len(Rules[action]))
	for i, r := range Rules[action] {
		names[i] = string(r)
	}
	need := names[0]
	if n := len(names); n > 1 {
		need = strings.Join(names[:n-1], ", ") + " or " + names[n-1]
	}
	you := "no role here"
	if role != "" {
		you = "a " + string(role)
	}
	return &keyhold.Error{Code: keyhold.EFORBIDDEN, Err: ErrForbidden,
		Message: "This needs the " + need + " role in this account; you are " + you + ". Ask an owner or admin to change your role."}
}

// Authorize is Require for whoever acts: a member by their role in the
// account, a root key (the management API) always, since the API checks
// the key's permission for each operation before it calls a service and
// is the only place a root-key actor is made.
func Authorize(actor audit.Actor, action Action) error {
	if actor.RootKeyID != "" {
		return nil
	}
	return Require(Role(actor.Role), action)
}
