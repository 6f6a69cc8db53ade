package templates

import "time"

// TeamPage is the view model of /team: the current account's members
// (data-testid="member-row", data-user-id, data-role), its pending
// invitations, and for owners and admins the forms that change them:
// POST /team/members/{user_id}/role (select "role"),
// POST /team/members/{user_id}/remove, POST /team/invitations (email,
// role), POST /team/invitations/{id}/revoke; and POST /team/leave for
// everyone.
type TeamPage struct {
	Layout
	AccountName string
	Members     []MemberRow
	Invitations []InvitationRow
	// CanManage shows the role selects, remove buttons, the invite form
	// and the revoke buttons (owners and admins).
	CanManage bool
	// InviteRoles are the roles the viewer may give in an invitation (an
	// admin cannot make owners).
	InviteRoles []string
	Invite      InviteForm
	// NewLink is a just-made invitation's link, shown once to copy
	// (data-testid="invite-link"); NewLinkEmail the address it is for;
	// Mailed says it was also emailed (false when email is off).
	NewLink      string
	NewLinkEmail string
	Mailed       bool
	EmailOn      bool
	// MaxMembers is the plan's limit (0: none); Seats counts members plus
	// pending invitations against it.
	MaxMembers int
	Seats      int
	PlanName   string
	// LeaveBlocked says why the viewer cannot leave (the last owner);
	// empty: they can.
	LeaveBlocked string
}

// MemberRow is one member of the team page.
type MemberRow struct {
	UserID string
	Email  string
	Role   string
	Joined time.Time
	You    bool // the signed-in user
	// Roles are the roles the viewer may set for this member; empty: the
	// viewer cannot change it (no select is shown).
	Roles     []string
	CanRemove bool
}

// InvitationRow is one pending invitation of the team page.
type InvitationRow struct {
	ID        string
	Email     string
	Role      string
	InvitedBy string // the inviter's email; "" when unknown
	CreatedAt time.Time
	ExpiresAt time.Time
}

// InviteForm is the invite form's input and errors.
type InviteForm struct {
	Email  string
	Role   string
	Error  string            // whole-form error, role="alert"
	Fields map[string]string // "email", "role" → its error
}

// Invitation states.
const (
	InvitationOpen      = "open"     // can be accepted
	InvitationAccepted  = "accepted" // used already
	InvitationExpired   = "expired"
	InvitationRevoked   = "revoked"
	InvitationUnknown   = "unknown"    // no such link
	InvitationWrongUser = "wrong_user" // signed in as someone else
)

// InvitationPage is the view model of GET /invitations/{token}. Open and
// signed in as the invited email: an Accept button (POST
// /invitations/{token}). Open and anonymous: a sign-up form (the invited
// email, read-only, and "password", posting to the same URL) and, when a
// user with that email exists, a log-in link (/login?next=/invitations/…).
// Any other state: a clear message and nothing to submit.
type InvitationPage struct {
	Layout
	State       string // Invitation…
	Path        string // /invitations/{token}: the form's action
	AccountName string
	Email       string // the invited address
	Role        string
	InvitedBy   string
	ExpiresAt   time.Time
	// SignedInAs is the signed-in user's email; "" when anonymous.
	SignedInAs string
	// HasUser says a user with the invited email exists (log in to
	// accept, rather than sign up).
	HasUser bool
	Error   string            // whole-form error, role="alert"
	Fields  map[string]string // "password" → its error
}

// NewAccountPage is the view model of GET /accounts/new: a form posting
// "name" to POST /accounts.
type NewAccountPage struct {
	Layout
	Name   string
	Error  string
	Fields map[string]string
}

// AdminMemberRow is a member of an account, or an account of a user, as
// the console shows it.
type AdminMemberRow struct {
	AccountID, AccountName string
	UserID, Email          string
	Role                   string
	Joined                 time.Time
	PlanName               string
	Suspended              bool
}

// AdminUserPage is /admin/users/{id}: a user, the accounts they belong
// to, and the operator actions on users (promote, demote, reset link:
// POST /admin/users/{id}/{promote,demote,reset-link}).
type AdminUserPage struct {
	Layout
	UserID    string
	Email     string
	IsAdmin   bool
	Verified  bool
	CreatedAt time.Time
	Accounts  []AdminMemberRow
	Audit     []AdminAuditRow
	Self      bool // the operator's own user
	CanDemote bool // false for the last operator
}
