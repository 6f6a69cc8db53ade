package store

import (
	"context"
	"fmt"
	"time"

	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/overview"
)

// The read side's queries (overview.Store): each page's account, key and
// key list in one statement apiece.

// accountStateColumns select an account (a), its subscription (s, LEFT
// JOINed) and its key counts, under names accountStateRow scans.
const accountStateColumns = `a.id AS acct_id, a.name AS acct_name, a.suspended AS acct_suspended, a.plan_id AS acct_plan_id,
	a.stripe_customer_id AS acct_customer_id, a.created_at AS acct_created_at,
	(SELECT COUNT(*) FROM api_keys c WHERE c.account_id = a.id) AS key_count,
	(SELECT COUNT(*) FROM api_keys c WHERE c.account_id = a.id AND c.revoked_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > @now)) AS live_key_count,
	s.account_id AS sub_account_id, s.stripe_subscription_id AS sub_id, s.stripe_customer_id AS sub_customer_id, s.price_id AS sub_price_id,
	s.status AS sub_status, s.period_start AS sub_period_start, s.period_end AS sub_period_end,
	s.cancel_at_period_end AS sub_cancel_at_period_end, s.canceled_at AS sub_canceled_at, s.sub_created AS sub_created,
	s.state_at AS sub_state_at, s.payment_state AS sub_payment_state, s.payment_at AS sub_payment_at`

type accountStateRow struct {
	AcctID, AcctName      string
	AcctSuspended         bool
	AcctPlanID            string
	AcctCustomerID        *string
	AcctCreatedAt         time.Time
	KeyCount              int
	LiveKeyCount          int
	SubAccountID          *string // nil: no subscription row
	SubID, SubCustomerID  *string
	SubPriceID, SubStatus *string
	SubPeriodStart        *time.Time
	SubPeriodEnd          *time.Time
	SubCancelAtPeriodEnd  *bool
	SubCanceledAt         *time.Time
	SubCreated            *int64
	SubStateAt            *int64
	SubPaymentState       *string
	SubPaymentAt          *int64
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func (r *accountStateRow) domain() *overview.Account {
	a := &overview.Account{ID: r.AcctID, Name: r.AcctName, Suspended: r.AcctSuspended, PlanID: r.AcctPlanID,
		CustomerID: deref(r.AcctCustomerID), CreatedAt: r.AcctCreatedAt.UTC(), Keys: r.KeyCount, LiveKeys: r.LiveKeyCount}
	if r.SubAccountID != nil {
		a.Subscription = &billing.Subscription{AccountID: *r.SubAccountID, ID: deref(r.SubID), CustomerID: deref(r.SubCustomerID),
			PriceID: deref(r.SubPriceID), Status: deref(r.SubStatus), PeriodStart: utcPtr(r.SubPeriodStart), PeriodEnd: utcPtr(r.SubPeriodEnd),
			CancelAtPeriodEnd: deref(r.SubCancelAtPeriodEnd), CanceledAt: utcPtr(r.SubCanceledAt), Created: deref(r.SubCreated),
			StateAt: deref(r.SubStateAt), PaymentState: deref(r.SubPaymentState), PaymentAt: deref(r.SubPaymentAt)}
	}
	return a
}

// AccountState returns an account with its subscription and key counts;
// overview.ErrNotFound when there is none.
func (db *DB) AccountState(ctx context.Context, accountID string, now time.Time) (*overview.Account, error) {
	var rows []accountStateRow
	err := db.ctx(ctx).Raw(`SELECT `+accountStateColumns+`
		FROM accounts a LEFT JOIN subscriptions s ON s.account_id = a.id WHERE a.id = @id`,
		map[string]any{"id": accountID, "now": now.UTC()}).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: account state: %w", err)
	}
	if len(rows) == 0 {
		return nil, overview.ErrNotFound
	}
	return rows[0].domain(), nil
}

// KeyState returns a key with its account's state; overview.ErrNotFound
// when there is no such key or, with accountID not empty, it is another
// account's.
func (db *DB) KeyState(ctx context.Context, accountID, keyID string, now time.Time) (*keys.Key, *overview.Account, error) {
	// Named and embedded: gorm skips the unexported anonymous fields.
	var rows []struct {
		Key     keyRecord       `gorm:"embedded"`
		Account accountStateRow `gorm:"embedded"`
		// The latest end of a secret rotated away, as FindKeys by ID reads it;
		// a joined column rather than MAX() so that SQLite keeps its type.
		OldSecretUntil *time.Time
	}
	q := `SELECT k.*, ` + createdByColumn + `, ` + accountStateColumns + `, os.expires_at AS old_secret_until
		FROM api_keys k JOIN accounts a ON a.id = k.account_id LEFT JOIN subscriptions s ON s.account_id = a.id ` + createdByJoin + `
		LEFT JOIN key_secrets os ON os.key_id = k.id AND os.expires_at IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM key_secrets later WHERE later.key_id = k.id AND later.expires_at > os.expires_at)
		WHERE k.id = @key`
	if accountID != "" {
		q += ` AND k.account_id = @account`
	}
	err := db.ctx(ctx).Raw(q, map[string]any{"key": keyID, "account": accountID, "now": now.UTC()}).Scan(&rows).Error
	if err != nil {
		return nil, nil, fmt.Errorf("store: key state: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil, overview.ErrNotFound
	}
	k, err := rows[0].Key.domain()
	if err != nil {
		return nil, nil, err
	}
	k.OldSecretUntil = utcPtr(rows[0].OldSecretUntil)
	return k, rows[0].Account.domain(), nil
}

// keyOrders are the ORDER BY clauses of overview's sorts; the id breaks
// ties so that the order is stable.
var keyOrders = map[string]string{
	overview.SortCreated:  "k.created_at DESC, k.id DESC",
	overview.SortName:     "LOWER(k.name), k.created_at DESC, k.id DESC",
	overview.SortLastUsed: "(k.last_used_at IS NULL), k.last_used_at DESC, k.created_at DESC, k.id DESC",
}

// AccountKeys returns the keys f selects with the quota each used in the
// window starting at windowStart.
func (db *DB) AccountKeys(ctx context.Context, f overview.KeyFilter, windowStart, now time.Time) ([]overview.Key, error) {
	g := db.ctx(ctx).Table("api_keys AS k").Select("k.*, COALESCE(q.used, 0) AS quota_used, "+createdByColumn).
		Joins(createdByJoin).
		Joins("LEFT JOIN key_quota q ON q.key_id = k.id AND q.window_start = ?", windowStart.UTC()).
		Where("k.account_id = ?", f.AccountID)
	g = whereStatus(g, f.Status, now)
	order, ok := keyOrders[f.Sort]
	if !ok {
		order = keyOrders[overview.SortCreated]
	}
	var rows []struct {
		Key       keyRecord `gorm:"embedded"`
		QuotaUsed int64
	}
	if err := g.Order(order).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: account keys: %w", err)
	}
	out := make([]overview.Key, len(rows))
	for i := range rows {
		k, err := rows[i].Key.domain()
		if err != nil {
			return nil, err
		}
		out[i] = overview.Key{Key: k, Used: rows[i].QuotaUsed}
	}
	return out, nil
}

var _ overview.Store = (*DB)(nil)
