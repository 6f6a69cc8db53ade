package templates

// The roles of a member of an account (DESIGN.md "Users, teams and
// roles"), as the pages name them.
const (
	roleOwner     = "owner"
	roleAdmin     = "admin"
	roleDeveloper = "developer"
	roleBilling   = "billing"
	roleViewer    = "viewer"
)

// roleLabel is a role as people read it ("Owner"); an unknown role is
// shown as it is.
func roleLabel(role string) string {
	switch role {
	case roleOwner:
		return "Owner"
	case roleAdmin:
		return "Admin"
	case roleDeveloper:
		return "Developer"
	case roleBilling:
		return "Billing"
	case roleViewer:
		return "Viewer"
	default:
		return role
	}
}

// roleSummary says in a few words what a role may do, for the invite form
// and the invitation page.
func roleSummary(role string) string {
	switch role {
	case roleOwner:
		return "everything, including billing, members and deleting the account"
	case roleAdmin:
		return "everything but removing or demoting owners"
	case roleDeveloper:
		return "create, edit, rotate and revoke keys, and see usage"
	case roleBilling:
		return "billing and usage, no key actions"
	case roleViewer:
		return "read only"
	default:
		return ""
	}
}

// roleBadgeClass colours a role badge: owners stand out, the rest are quiet.
func roleBadgeClass(role string) string {
	if role == roleOwner {
		return "badge badge-accent"
	}
	return "badge badge-gray"
}
