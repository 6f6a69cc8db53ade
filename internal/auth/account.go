package auth

import (
	"context"
	"errors"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
)

// Account is a person who signs in to the portal.
type Account struct {
	ID           string
	Email        string // lower-cased
	PasswordHash string // argon2id PHC string
	IsAdmin      bool
	// Suspended accounts keep their data but not their use: their keys
	// answer DISABLED and their user sees only a page saying so.
	Suspended bool
	PlanID    string // the plan the account is on; billing keeps it in sync
	// EmailVerifiedAt is when the address was verified; nil: never.
	EmailVerifiedAt *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Session is the server-side half of a session token; its ID is the
// token's jti.
type Session struct {
	ID        string
	AccountID string
	CreatedAt time.Time
	ExpiresAt time.Time
	IP        string
	UserAgent string
}

// Store errors.
var (
	// ErrNotFound is returned by Store lookups that find nothing.
	ErrNotFound = errors.New("auth: not found")
	// ErrEmailTaken is returned by Store.CreateAccount for a duplicate email.
	ErrEmailTaken = errors.New("auth: email taken")
	// ErrLastOperator is returned by Store.SetOperator when removing the
	// flag would leave no operator.
	ErrLastOperator = errors.New("auth: last operator")
)

// Store is what auth needs from the database.
type Store interface {
	CreateAccount(ctx context.Context, a *Account) error // ErrEmailTaken
	AccountByID(ctx context.Context, id string) (*Account, error)
	AccountByEmail(ctx context.Context, email string) (*Account, error)
	// SetPassword stores a new hash and deletes every session of the
	// account, in one transaction.
	SetPassword(ctx context.Context, accountID, hash string) error
	CreateSession(ctx context.Context, s *Session) error
	SessionByID(ctx context.Context, id string) (*Session, error)
	DeleteSession(ctx context.Context, id string) error
	// SetOperator sets or clears an account's operator flag and appends e,
	// in one transaction; ErrNotFound for no such account. With keepOne,
	// clearing the flag of the only operator who is not suspended is
	// refused (ErrLastOperator).
	SetOperator(ctx context.Context, accountID string, operator, keepOne bool, e audit.Entry) error
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
