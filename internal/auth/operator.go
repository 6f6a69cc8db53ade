package auth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/team"
)

// MaxPageSize bounds how many rows one operator query returns.
const MaxPageSize = 500

// AccountQuery selects accounts for the operator's list; zero fields match
// every account.
type AccountQuery struct {
	Email  string // part of a member's email or of the account's name, in any case
	PlanID string
	// Status is a subscription status ("active", "past_due", "canceled",
	// …), or StatusNone for accounts that never subscribed.
	Status string
	Offset int
	Limit  int // at most MaxPageSize; 0: MaxPageSize
}

// StatusNone selects accounts without a subscription in AccountQuery.
const StatusNone = "none"

// AccountSummary is an account as the operator's list shows it, with what
// the store knows of its subscription and keys.
type AccountSummary struct {
	team.Account
	OwnerEmail         string // the first owner's email; "" without one
	Members            int
	CustomerID         string     // Stripe customer (cus_…); empty without one
	SubscriptionStatus string     // empty without a subscription
	PeriodStart        *time.Time // the subscription's current period, when it has one
	PeriodEnd          *time.Time
	LiveKeys           int // keys neither revoked nor expired
	Keys               int // every key, revoked and expired included
}

// AuditQuery selects entries of the audit log; zero fields match all.
type AuditQuery struct {
	// AccountID selects entries about the account's resources.
	AccountID string
	// UserID selects entries done by the user or about them (log-ins,
	// password changes).
	UserID string
	// Action is an action (audit.KeyCreated) or a prefix ending in a dot
	// ("key.").
	Action string
	From   time.Time // entries at or after From
	To     time.Time // entries before To
	Offset int
	Limit  int // at most MaxPageSize; 0: MaxPageSize
}

// AuditRecord is an audit entry with the name of its account and the
// email of its actor (empty when there is none, or it is gone).
type AuditRecord struct {
	audit.Entry
	AccountName string
	ActorEmail  string
}

func limit(n int) int {
	if n <= 0 || n > MaxPageSize {
		return MaxPageSize
	}
	return n
}

// Accounts returns the accounts q selects, newest first. It is for
// operators: the caller checks that the user is one.
func (s *Service) Accounts(ctx context.Context, q AccountQuery) ([]AccountSummary, error) {
	q.Email = strings.ToLower(strings.TrimSpace(q.Email))
	q.Limit, q.Offset = limit(q.Limit), max(q.Offset, 0)
	as, err := s.store.Accounts(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("auth: accounts: %w", err)
	}
	return as, nil
}

// AccountsByPlan counts the accounts on each plan id.
func (s *Service) AccountsByPlan(ctx context.Context) (map[string]int, error) {
	m, err := s.store.AccountsByPlan(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: accounts by plan: %w", err)
	}
	return m, nil
}

// AuditLog returns the audit entries q selects, newest first. It is for
// operators: the caller checks that the user is one.
func (s *Service) AuditLog(ctx context.Context, q AuditQuery) ([]AuditRecord, error) {
	q.Action = strings.TrimSpace(q.Action)
	q.Limit, q.Offset = limit(q.Limit), max(q.Offset, 0)
	rs, err := s.store.AuditLog(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("auth: audit log: %w", err)
	}
	return rs, nil
}
