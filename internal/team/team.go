package team

import (
	"errors"
	"time"
)

// Account is a team: it owns the keys, the plan, the Stripe customer and
// the usage. Users reach it through memberships.
type Account struct {
	ID   string
	Name string
	// ExternalID is the API provider's own id for its customer, set
	// through the management API; "" for none. Unique among accounts.
	ExternalID string
	PlanID     string
	Suspended  bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// MaxNameLen bounds an account's name.
const MaxNameLen = 64

// Membership is a user's place in an account, with what the shell needs of
// the account (its name, plan and suspension).
type Membership struct {
	AccountID   string
	AccountName string
	PlanID      string
	Suspended   bool // the account is suspended
	UserID      string
	Role        Role
	CreatedAt   time.Time
}

// Member is a member of an account as the team page lists it.
type Member struct {
	UserID    string
	Email     string
	Role      Role
	CreatedAt time.Time
}

// Invitation is an invitation to join an account. Its token is mailed and
// shown once; only the token's hash is stored.
type Invitation struct {
	ID          string
	AccountID   string
	AccountName string // filled by lookups
	Email       string // lower-cased; only a user with this email may accept
	Role        Role
	TokenHash   string
	InvitedBy   string // user id
	InviterMail string // filled by lookups: the inviter's email; "" when gone
	CreatedAt   time.Time
	ExpiresAt   time.Time
	AcceptedAt  *time.Time
	AcceptedBy  string
	RevokedAt   *time.Time
}

// InvitationTTL is how long an invitation can be accepted.
const InvitationTTL = 7 * 24 * time.Hour

// Store errors.
var (
	// ErrNotFound is returned by lookups that find nothing, and by changes
	// to a membership or invitation that does not exist (or is no longer
	// pending).
	ErrNotFound = errors.New("team: not found")
	// ErrLastOwner is returned when a change would leave an account
	// without an owner.
	ErrLastOwner = errors.New("team: last owner")
	// ErrAlreadyMember is returned when the user is a member already.
	ErrAlreadyMember = errors.New("team: already a member")
	// ErrTooManyAccounts is returned when a user owns the most accounts
	// one may (MaxOwnedAccounts).
	ErrTooManyAccounts = errors.New("team: too many accounts")
	// ErrSeatsFull is returned when the plan's max_members is reached.
	ErrSeatsFull = errors.New("team: no seat left")
	// ErrExternalIDTaken is returned when another account has the
	// external id.
	ErrExternalIDTaken = errors.New("team: external id taken")
)

// Invitation states, as Service.Invitation reports them (the same strings
// as templates.Invitation…).
const (
	InvitationOpen     = "open"     // can be accepted
	InvitationAccepted = "accepted" // used already
	InvitationExpired  = "expired"
	InvitationRevoked  = "revoked" // revoked, or replaced by a newer invitation
	InvitationUnknown  = "unknown" // no such link
)

// InvitationMail is the mail of an invitation, queued in the transaction
// that creates it. Token is the one secret in it, for the mail's own link.
type InvitationMail struct {
	To          string
	Token       string
	AccountName string
	InviterMail string // "" when unknown
	Role        Role
	ExpiresAt   time.Time
}
