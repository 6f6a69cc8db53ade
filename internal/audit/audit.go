// Package audit defines the entries of Keyhold's append-only audit log:
// who did what to which resource, when, and from which address. Services
// build entries; the store writes them in the same transaction as the change
// they describe, so the log never claims a change that did not happen.
package audit

import "time"

// Actions recorded in the log.
const (
	KeyCreated = "key.created"
	KeyRenamed = "key.renamed"
	KeyEdited  = "key.edited"
	KeyRotated = "key.rotated"
	KeyRevoked = "key.revoked"
	// KeyOldSecretExpired is the owner ending a rotation's grace period
	// early ("expire it now").
	KeyOldSecretExpired = "key.old_secret_expired"

	// AccountCreated is a sign-up (or an account made on the command line).
	AccountCreated = "account.created"
	// LoggedIn is a successful log-in.
	LoggedIn = "account.login"
	// AccountEdited is a change to an account's name or external id
	// (through the management API); the detail says which.
	AccountEdited = "account.edited"
	// LoginFailed is a wrong password or an unknown email. The entry's
	// account is the one the email names, if any; its actor is empty.
	LoginFailed = "account.login_failed"
	// LoggedOut is a log-out.
	LoggedOut = "account.logout"
	// PasswordChanged is a password change (which ends every session).
	PasswordChanged = "account.password_changed"
	// PasswordResetRequested is a reset link mailed from the forgot
	// password page; PasswordResetLinkMade one an operator made in the
	// console.
	PasswordResetRequested = "account.password_reset_requested"
	PasswordResetLinkMade  = "account.password_reset_link_made"
	// EmailVerified is an address verified through its link.
	EmailVerified = "account.email_verified"
	// EmailChangeRequested is a confirmation link mailed to a new address;
	// EmailChanged the change confirmed from it.
	EmailChangeRequested = "account.email_change_requested"
	EmailChanged         = "account.email_changed"

	// KeyOverridden is an operator's change to a key's rate limit, burst
	// or quota overrides.
	KeyOverridden = "key.overrides_changed"
	// PlanChanged is a plan change that Stripe caused (a webhook event or
	// a reconcile); the detail names the event.
	PlanChanged = "plan.changed"
	// PlanAssigned is an operator putting an account without a Stripe
	// subscription on a plan (a comped plan).
	PlanAssigned = "plan.assigned"
	// EventReapplied is an operator applying a failed Stripe event again.
	EventReapplied = "stripe.event_reapplied"

	// Promoted and Demoted are an account made an operator, or no longer
	// one, in the console or on the command line (no actor).
	Promoted = "account.promoted"
	Demoted  = "account.demoted"
	// Suspended and Unsuspended are an operator stopping an account's keys
	// and portal, and giving them back.
	Suspended   = "account.suspended"
	Unsuspended = "account.unsuspended"

	// Team changes (package team). The entry's account is the team's, its
	// actor the user who acted; MemberAdded is an invitation accepted (the
	// actor is the new member), MemberLeft a member leaving on their own.
	MemberInvited           = "member.invited"
	MemberInvitationRevoked = "member.invitation_revoked"
	MemberAdded             = "member.added"
	MemberRoleChanged       = "member.role_changed"
	MemberRemoved           = "member.removed"
	MemberLeft              = "member.left"

	// RootKeyCreated and RootKeyRevoked are an operator making or revoking
	// a root key of the management API, in the console or on the command
	// line (no actor). Their entries belong to no account.
	RootKeyCreated = "root_key.created"
	RootKeyRevoked = "root_key.revoked"

	// Webhook endpoint changes (package events), by an operator in the
	// console or a root key with webhooks.write. Their entries belong to
	// no account, and name the endpoint's host, never its path or secret.
	WebhookEndpointCreated      = "webhook_endpoint.created"
	WebhookEndpointUpdated      = "webhook_endpoint.updated"
	WebhookEndpointDeleted      = "webhook_endpoint.deleted"
	WebhookEndpointSecretRolled = "webhook_endpoint.secret_rolled"
)

// Actions lists every action, grouped as the operator's filter shows them.
var Actions = []string{
	AccountCreated, AccountEdited, LoggedIn, LoginFailed, LoggedOut, PasswordChanged,
	Promoted, Demoted, Suspended, Unsuspended,
	PasswordResetRequested, PasswordResetLinkMade, EmailVerified, EmailChangeRequested, EmailChanged,
	KeyCreated, KeyRenamed, KeyEdited, KeyRotated, KeyOldSecretExpired, KeyRevoked, KeyOverridden,
	PlanChanged, PlanAssigned, EventReapplied,
	MemberInvited, MemberInvitationRevoked, MemberAdded, MemberRoleChanged, MemberRemoved, MemberLeft,
	RootKeyCreated, RootKeyRevoked,
	WebhookEndpointCreated, WebhookEndpointUpdated, WebhookEndpointDeleted, WebhookEndpointSecretRolled,
}

// Target types of entries.
const (
	TargetAccount     = "account"
	TargetUser        = "user"
	TargetKey         = "key"
	TargetStripeEvent = "stripe_event"
	TargetMember      = "member"     // target id: the user id
	TargetInvitation  = "invitation" // target id: the invitation id
	TargetRootKey     = "root_key"   // target id: the root key's id
	// TargetWebhookEndpoint: the target id is the endpoint's id.
	TargetWebhookEndpoint = "webhook_endpoint"
)

// Entry is one line of the audit log.
type Entry struct {
	ID         string // made by the store when empty
	AccountID  string // the account that owns the target; empty for a user's own events (log-in, password)
	ActorID    string // the user who acted; empty for the system
	RootKeyID  string // the root key a management API call came with; empty otherwise
	Action     string
	TargetType string // "key", "account", …
	TargetID   string
	IP         string
	Detail     string // short human summary; never a secret
	CreatedAt  time.Time
}

// Actor is who performs an action, in which account and with what role,
// and from where. The zero Actor is the system (the command line, Stripe).
type Actor struct {
	UserID    string // the user who acts; empty for the system
	AccountID string // the account they act in (the session's current one)
	Role      string // their role in AccountID (team.Role); empty for the system and operators' console actions
	// RootKeyID is the root key a management API call comes with: the
	// API acts with the key's permissions (checked per operation before
	// any service is called) and no user. Empty for the portal, the
	// console and the command line.
	RootKeyID string
	IP        string
}

// Entry is the audit entry of actor doing action to a target of accountID
// at at: every service builds its entries here, so each carries who acted
// (user or root key) and from where. The store gives it its id.
func (a Actor) Entry(accountID, action, targetType, targetID, detail string, at time.Time) Entry {
	return Entry{AccountID: accountID, ActorID: a.UserID, RootKeyID: a.RootKeyID, Action: action,
		TargetType: targetType, TargetID: targetID, IP: a.IP, Detail: detail, CreatedAt: at.UTC()}
}

// Filter selects a page of the log: entries of AccountID (every account
// when empty) with Action (every action of a resource when it ends in
// "."), older than the entry StartingAfter, at most Limit.
type Filter struct {
	AccountID, Action, StartingAfter string
	Limit                            int
}
