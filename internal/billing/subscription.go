package billing

import (
	"context"
	"errors"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/quota"
)

// Subscription statuses that keep the subscription's plan (Stripe is still
// collecting for past_due); every other status means the free plan.
var paidStatuses = map[string]bool{"active": true, "trialing": true, "past_due": true}

// terminal statuses never change again in Stripe.
var terminalStatuses = map[string]bool{"canceled": true, "incomplete_expired": true}

// Subscription is an account's subscription as Stripe last told us.
type Subscription struct {
	AccountID         string
	ID                string // sub_…
	CustomerID        string // cus_…
	PriceID           string
	Status            string
	PeriodStart       *time.Time
	PeriodEnd         *time.Time
	CancelAtPeriodEnd bool
	CanceledAt        *time.Time
	Created           int64 // the subscription's creation (unix)
	StateAt           int64 // creation (unix) of the event this state came from
	PaymentState      string
	PaymentAt         int64
}

// Payment states.
const (
	PaymentPaid   = "paid"
	PaymentFailed = "failed"
)

// Live reports whether the subscription is paid for now (active, trialing
// or past_due).
func Live(s *Subscription) bool { return s != nil && paidStatuses[s.Status] }

// QuotaPeriod is the period the account's quota counts in while s is its
// subscription (nil: none): see quota.Period.
func (s *Subscription) QuotaPeriod() quota.Window {
	if s == nil {
		return quota.Window{}
	}
	return quota.Period(Live(s), s.PeriodStart, s.PeriodEnd)
}

// Terminal reports whether the subscription can never change again.
func (s *Subscription) Terminal() bool { return terminalStatuses[s.Status] }

// PlanFor returns the plan a subscription gives its account: the price's
// plan while the status is paid, else the default plan. known is false for
// a price in no plan (the caller logs it; the account gets the default).
func PlanFor(cat *plans.Catalog, s *Subscription) (p *plans.Plan, known bool) {
	if s == nil || !paidStatuses[s.Status] {
		return cat.Default(), true
	}
	if p, ok := cat.ByPrice(s.PriceID); ok {
		return p, true
	}
	return cat.Default(), false
}

// Errors a Store returns.
var (
	ErrNotFound = errors.New("billing: not found")
)

// Event outcomes recorded for every webhook event.
const (
	OutcomeApplied = "applied"
	OutcomeIgnored = "ignored"
	OutcomeFailed  = "failed"
)

// EventRecord is a webhook event as recorded.
type EventRecord struct {
	ID         string
	Type       string
	Created    int64
	AccountID  string
	Outcome    string
	Detail     string
	Payload    string // kept for failed events only
	APIVersion string // the event's api_version; empty for reconcile records and rows older than the column
	ReceivedAt time.Time
}

// WrongAPIVersion reports whether the event was refused for arriving in
// another API version than APIVersion: the fix is the endpoint's setting
// in Stripe, not applying the event again.
func (e EventRecord) WrongAPIVersion() bool {
	return e.Outcome == OutcomeFailed && e.APIVersion != "" && e.APIVersion != APIVersion
}

// Customer is what billing needs of an account.
type Customer struct {
	AccountID  string
	Email      string
	CustomerID string // empty until Checkout is first used
	PlanID     string
}

// Tx is the part of the store an event's effect runs in: one transaction
// with the recording of the event.
type Tx interface {
	// AccountByCustomer returns the account linked to a Stripe customer.
	AccountByCustomer(customerID string) (string, error)
	// Subscription returns an account's subscription, or ErrNotFound.
	Subscription(accountID string) (*Subscription, error)
	// AccountPlan returns the id of the plan an account is on, or
	// ErrNotFound.
	AccountPlan(accountID string) (string, error)
	// SaveSubscription stores the subscription and puts the account on
	// planID; when that changes the account's plan, it appends an
	// audit.PlanChanged entry naming the event.
	SaveSubscription(s *Subscription, planID string) error
	// LinkCustomer links a customer to an account that has none.
	LinkCustomer(accountID, customerID string) error
}

// Store is what billing needs from the database.
type Store interface {
	Customer(ctx context.Context, accountID string) (*Customer, error)
	// SetCustomerID links a new Stripe customer to an account unless one
	// is linked already; it returns the id that is linked afterwards.
	SetCustomerID(ctx context.Context, accountID, customerID string) (string, error)
	Subscription(ctx context.Context, accountID string) (*Subscription, error)
	// ApplyEvent runs fn in one transaction with ev's record, which it
	// creates when there is none and otherwise holds locked until the
	// transaction ends; prior is the outcome recorded before ("" for an
	// event not seen yet). What fn returns is recorded with ev, without a
	// payload. When fn fails nothing of the transaction is kept. The store
	// decides nothing from prior: takesOver does.
	ApplyEvent(ctx context.Context, ev EventRecord, fn func(tx Tx, prior string) (outcome, detail string, err error)) error
	// RecordFailedEvent keeps an event whose effect failed, with its
	// payload, so it can be retried.
	RecordFailedEvent(ctx context.Context, ev EventRecord) error

	// The operator's side (operator.go).

	// StripeEvent returns one recorded event, or ErrNotFound.
	StripeEvent(ctx context.Context, id string) (*EventRecord, error)
	// FindStripeEvents returns the recorded events q selects, newest
	// first.
	FindStripeEvents(ctx context.Context, q EventQuery) ([]EventRecord, error)
	// AssignPlan puts an account on planID and appends e, in one
	// transaction; ErrNotFound when there is no such account.
	AssignPlan(ctx context.Context, accountID, planID string, e audit.Entry) error
	// AppendAudit adds an entry to the append-only audit log.
	AppendAudit(ctx context.Context, e audit.Entry) error
}
