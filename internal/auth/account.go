package auth

import (
	"context"
	"errors"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/team"
)

// User is a person who signs in to the portal. What they may reach comes
// from their memberships in accounts (package team).
type User struct {
	ID           string
	Email        string // lower-cased
	PasswordHash string // argon2id PHC string
	IsAdmin      bool   // an operator of this Keyhold
	// EmailVerifiedAt is when the address was verified; nil: never.
	EmailVerifiedAt *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Session is the server-side half of a session token; its ID is the
// token's jti. AccountID is the account the user acts in, picked in the
// header switcher; empty when none is picked yet (or it went away).
type Session struct {
	ID        string
	UserID    string
	AccountID string
	CreatedAt time.Time
	ExpiresAt time.Time
	IP        string
	UserAgent string
}

// Visit is what a request's session cookie stands for: the session, its
// user, every account the user belongs to, and the one they act in.
type Visit struct {
	Session     *Session
	User        *User
	Memberships []team.Membership // ordered by account name
	// Current is the membership of the account the user acts in; nil when
	// the user belongs to no account at all.
	Current *team.Membership
}

// Actor is the visit as the services see who acts: the user, in the
// current account, with their role there, from address.
func (v *Visit) Actor(address string) audit.Actor {
	a := audit.Actor{UserID: v.User.ID, IP: address}
	if v.Current != nil {
		a.AccountID, a.Role = v.Current.AccountID, string(v.Current.Role)
	}
	return a
}

// Store errors.
var (
	// ErrNotFound is returned by Store lookups that find nothing.
	ErrNotFound = errors.New("auth: not found")
	// ErrEmailTaken is returned by Store.CreateUser for a duplicate email.
	ErrEmailTaken = errors.New("auth: email taken")
	// ErrLastOperator is returned by Store.SetOperator when removing the
	// flag would leave no operator.
	ErrLastOperator = errors.New("auth: last operator")
)

// Store is what auth needs from the database.
type Store interface {
	// CreateUser inserts u, personal (when not nil) as an account of
	// which u is the owner, and entry (when not nil) with the event it
	// causes, in one transaction; ErrEmailTaken.
	CreateUser(ctx context.Context, u *User, personal *team.Account, entry *audit.Entry) error
	UserByID(ctx context.Context, id string) (*User, error)
	UserByEmail(ctx context.Context, email string) (*User, error)
	// AccountByID returns an account; ErrNotFound.
	AccountByID(ctx context.Context, id string) (*team.Account, error)
	// SetPassword stores a new hash and deletes every session of the
	// user, in one transaction.
	SetPassword(ctx context.Context, userID, hash string) error
	CreateSession(ctx context.Context, s *Session) error
	// Visit returns the session with this id, its user and the user's
	// memberships, in one query; ErrNotFound.
	Visit(ctx context.Context, sessionID string) (*Visit, error)
	// SetSessionAccount makes accountID the session's current account,
	// only if the session's user is a member of it; ErrNotFound otherwise.
	SetSessionAccount(ctx context.Context, sessionID, userID, accountID string) error
	DeleteSession(ctx context.Context, id string) error
	// SetOperator sets or clears a user's operator flag and appends e,
	// in one transaction; ErrNotFound for no such user. With keepOne,
	// clearing the flag of the only operator is refused (ErrLastOperator).
	SetOperator(ctx context.Context, userID string, operator, keepOne bool, e audit.Entry) error
	// SetSuspended sets or clears an account's suspension and appends e,
	// in one transaction; ErrNotFound for no such account.
	SetSuspended(ctx context.Context, accountID string, suspended bool, e audit.Entry) error
	// AppendAudit adds an entry to the append-only audit log.
	AppendAudit(ctx context.Context, e audit.Entry) error

	// Accounts returns the accounts q selects, newest first.
	Accounts(ctx context.Context, q AccountQuery) ([]AccountSummary, error)
	// AccountsByPlan counts accounts per plan id.
	AccountsByPlan(ctx context.Context) (map[string]int, error)
	// AuditLog returns the audit entries q selects, newest first.
	AuditLog(ctx context.Context, q AuditQuery) ([]AuditRecord, error)
}
