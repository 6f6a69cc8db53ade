package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/keyhold/keyhold/internal/billing"
)

type subscriptionRecord struct {
	AccountID            string `gorm:"primaryKey"`
	StripeSubscriptionID string
	StripeCustomerID     string
	PriceID              string
	Status               string
	PeriodStart          *time.Time
	PeriodEnd            *time.Time
	CancelAtPeriodEnd    bool
	CanceledAt           *time.Time
	SubCreated           int64
	StateAt              int64
	PaymentState         string
	PaymentAt            int64
	UpdatedAt            time.Time
}

func (subscriptionRecord) TableName() string { return "subscriptions" }

func (r *subscriptionRecord) domain() *billing.Subscription {
	return &billing.Subscription{AccountID: r.AccountID, ID: r.StripeSubscriptionID, CustomerID: r.StripeCustomerID,
		PriceID: r.PriceID, Status: r.Status, PeriodStart: utcPtr(r.PeriodStart), PeriodEnd: utcPtr(r.PeriodEnd),
		CancelAtPeriodEnd: r.CancelAtPeriodEnd, CanceledAt: utcPtr(r.CanceledAt), Created: r.SubCreated,
		StateAt: r.StateAt, PaymentState: r.PaymentState, PaymentAt: r.PaymentAt}
}

type eventRecord struct {
	ID         string `gorm:"primaryKey"`
	Type       string
	Created    int64
	AccountID  string
	Outcome    string
	Detail     string
	Payload    string
	APIVersion string
	ReceivedAt time.Time
}

func (eventRecord) TableName() string { return "stripe_events" }

// Customer returns what billing needs of an account.
func (db *DB) Customer(ctx context.Context, accountID string) (*billing.Customer, error) {
	var row struct {
		ID               string
		Email            string
		StripeCustomerID *string
		PlanID           string
	}
	// Stripe's customer is the account; its email is the first owner's,
	// where Stripe sends receipts.
	err := db.ctx(ctx).Table("accounts a").Select("a.id, a.stripe_customer_id, a.plan_id, "+
		"COALESCE("+firstOwnerEmail+", '') AS email").Where("a.id = ?", accountID).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, billing.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: customer: %w", err)
	}
	c := &billing.Customer{AccountID: row.ID, Email: row.Email, PlanID: row.PlanID}
	if row.StripeCustomerID != nil {
		c.CustomerID = *row.StripeCustomerID
	}
	return c, nil
}

// SetCustomerID links a customer to an account that has none and returns
// the customer linked afterwards.
func (db *DB) SetCustomerID(ctx context.Context, accountID, customerID string) (string, error) {
	err := db.ctx(ctx).Table("accounts").Where("id = ? AND stripe_customer_id IS NULL", accountID).
		Update("stripe_customer_id", customerID).Error
	if err != nil {
		return "", fmt.Errorf("store: set customer: %w", err)
	}
	c, err := db.Customer(ctx, accountID)
	if err != nil {
		return "", err
	}
	return c.CustomerID, nil
}

// Subscription returns an account's subscription.
func (db *DB) Subscription(ctx context.Context, accountID string) (*billing.Subscription, error) {
	return subscriptionOf(db.ctx(ctx), accountID)
}

func subscriptionOf(g *gorm.DB, accountID string) (*billing.Subscription, error) {
	var rec subscriptionRecord
	err := g.Where("account_id = ?", accountID).Take(&rec).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, billing.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: subscription: %w", err)
	}
	return rec.domain(), nil
}

// ApplyEvent runs fn in one transaction with the event's record: it
// creates the record when there is none, or else locks it, and tells fn
// the outcome it had (prior, "" for a new event); billing decides from it
// whether the event takes effect. An error from fn rolls everything back.
func (db *DB) ApplyEvent(ctx context.Context, ev billing.EventRecord, fn func(tx billing.Tx, prior string) (string, string, error)) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		prior, err := claimEvent(tx, ev)
		if err != nil {
			return err
		}
		btx := &billingTx{db: db, tx: tx, event: ev.ID}
		outcome, detail, err := fn(btx, prior)
		if err != nil {
			return err
		}
		err = tx.Model(&eventRecord{}).Where("id = ?", ev.ID).Updates(map[string]any{"outcome": outcome, "detail": truncate(detail, 500),
			"payload": "", "account_id": btx.account, "api_version": ev.APIVersion, "received_at": ev.ReceivedAt.UTC()}).Error
		if err != nil {
			return fmt.Errorf("store: record event outcome: %w", err)
		}
		return nil
	})
}

// claimEvent creates ev's record ("processing", seen by no one else until
// the transaction commits) or, when it exists, locks it and returns its
// outcome. On PostgreSQL a second delivery of a new event waits in the
// INSERT for the first one's transaction, then reads what it recorded;
// SQLite's transactions take the write lock at BEGIN (_txlock=immediate),
// so they never overlap.
func claimEvent(tx *gorm.DB, ev billing.EventRecord) (string, error) {
	rec := eventRecord{ID: ev.ID, Type: ev.Type, Created: ev.Created, Outcome: "processing", APIVersion: ev.APIVersion, ReceivedAt: ev.ReceivedAt.UTC()}
	res := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "id"}}, DoNothing: true}).Create(&rec)
	if res.Error != nil {
		return "", fmt.Errorf("store: record event: %w", res.Error)
	}
	if res.RowsAffected == 1 {
		return "", nil
	}
	var cur eventRecord
	if err := tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).Select("outcome").Where("id = ?", ev.ID).Take(&cur).Error; err != nil {
		return "", fmt.Errorf("store: read event record: %w", err)
	}
	return cur.Outcome, nil
}

// RecordFailedEvent keeps a failed event with its payload, unless it was
// applied meanwhile.
func (db *DB) RecordFailedEvent(ctx context.Context, ev billing.EventRecord) error {
	rec := eventRecord{ID: ev.ID, Type: ev.Type, Created: ev.Created, AccountID: ev.AccountID, Outcome: billing.OutcomeFailed,
		Detail: truncate(ev.Detail, 500), Payload: ev.Payload, APIVersion: ev.APIVersion, ReceivedAt: ev.ReceivedAt.UTC()}
	err := db.ctx(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "id"}},
		DoUpdates: clause.AssignmentColumns([]string{"outcome", "detail", "payload", "api_version", "received_at"}),
		Where:     clause.Where{Exprs: []clause.Expression{clause.Eq{Column: clause.Column{Table: "stripe_events", Name: "outcome"}, Value: billing.OutcomeFailed}}},
	}).Create(&rec).Error
	if err != nil {
		return fmt.Errorf("store: record failed event: %w", err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// billingTx implements billing.Tx inside one transaction.
type billingTx struct {
	db      *DB
	tx      *gorm.DB
	event   string // the id of the event being applied, for the audit log
	account string // the account whose subscription was saved, for the event record
}

func (t *billingTx) AccountByCustomer(customerID string) (string, error) {
	var id string
	err := t.tx.Table("accounts").Select("id").Where("stripe_customer_id = ?", customerID).Take(&id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", billing.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: account by customer: %w", err)
	}
	return id, nil
}

func (t *billingTx) Subscription(accountID string) (*billing.Subscription, error) {
	return subscriptionOf(t.tx, accountID)
}

func (t *billingTx) AccountPlan(accountID string) (string, error) {
	var plan []string
	if err := t.tx.Table("accounts").Where("id = ?", accountID).Pluck("plan_id", &plan).Error; err != nil {
		return "", fmt.Errorf("store: account plan: %w", err)
	}
	if len(plan) != 1 {
		return "", billing.ErrNotFound
	}
	return plan[0], nil
}

func (t *billingTx) LinkCustomer(accountID, customerID string) error {
	res := t.tx.Table("accounts").Where("id = ? AND stripe_customer_id IS NULL", accountID).Update("stripe_customer_id", customerID)
	if res.Error != nil {
		return fmt.Errorf("store: link customer: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return billing.ErrNotFound // no such account, or linked to another customer
	}
	return nil
}

func (t *billingTx) SaveSubscription(s *billing.Subscription, planID string) error {
	rec := subscriptionRecord{AccountID: s.AccountID, StripeSubscriptionID: s.ID, StripeCustomerID: s.CustomerID, PriceID: s.PriceID,
		Status: s.Status, PeriodStart: utcPtr(s.PeriodStart), PeriodEnd: utcPtr(s.PeriodEnd), CancelAtPeriodEnd: s.CancelAtPeriodEnd,
		CanceledAt: utcPtr(s.CanceledAt), SubCreated: s.Created, StateAt: s.StateAt, PaymentState: s.PaymentState, PaymentAt: s.PaymentAt,
		UpdatedAt: time.Now().UTC()}
	// A subscription id moving between accounts is a Stripe oddity: the
	// unique index refuses it and the event fails loudly.
	err := t.tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "account_id"}}, UpdateAll: true}).Create(&rec).Error
	if err != nil {
		return fmt.Errorf("store: save subscription: %w", err)
	}
	var was []string
	if err := t.tx.Table("accounts").Where("id = ?", s.AccountID).Pluck("plan_id", &was).Error; err != nil {
		return fmt.Errorf("store: plan: %w", err)
	}
	if err := t.tx.Table("accounts").Where("id = ?", s.AccountID).Updates(map[string]any{"plan_id": planID, "updated_at": time.Now().UTC()}).Error; err != nil {
		return fmt.Errorf("store: set plan: %w", err)
	}
	if len(was) == 1 && was[0] != planID {
		if err := t.db.writeAudit(t.tx, planChangedEntry(s, was[0], planID, t.event)); err != nil {
			return err
		}
	}
	t.account = s.AccountID
	return nil
}

var _ billing.Store = (*DB)(nil)

// StripeEvents returns the newest recorded events.
func (db *DB) StripeEvents(ctx context.Context, limit int) ([]billing.EventRecord, error) {
	var recs []eventRecord
	if err := db.ctx(ctx).Order("received_at DESC, id").Limit(limit).Find(&recs).Error; err != nil {
		return nil, fmt.Errorf("store: stripe events: %w", err)
	}
	out := make([]billing.EventRecord, len(recs))
	for i, r := range recs {
		out[i] = billing.EventRecord{ID: r.ID, Type: r.Type, Created: r.Created, AccountID: r.AccountID, Outcome: r.Outcome,
			Detail: r.Detail, Payload: r.Payload, APIVersion: r.APIVersion, ReceivedAt: r.ReceivedAt.UTC()}
	}
	return out, nil
}
