package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/keyhold"
)

// EventQueue queues the jobs of outbound webhooks inside a database
// transaction (events.Jobs, on the queue of internal/jobs).
type EventQueue interface {
	FanOutTx(ctx context.Context, tx *sql.Tx, eventID string) error
	DeliverTx(ctx context.Context, tx *sql.Tx, deliveryID string, seq int) error
}

// SetEventQueue sets where the store queues the jobs of events. Without
// one (the command line), events are still written, marked unqueued, and
// the server's sweep (events.Deliverer) fans them out; deliveries, which
// only the server makes, need one.
func (db *DB) SetEventQueue(q EventQueue) { db.events = q }

// eventOfAction is the event type each audited action causes; actions not
// listed cause none.
var eventOfAction = map[string]string{
	audit.KeyCreated:          events.KeyCreated,
	audit.KeyRenamed:          events.KeyUpdated,
	audit.KeyEdited:           events.KeyUpdated,
	audit.KeyOverridden:       events.KeyUpdated,
	audit.KeyOldSecretExpired: events.KeyUpdated,
	audit.KeyRotated:          events.KeyRotated,
	audit.KeyRevoked:          events.KeyRevoked,
	audit.AccountCreated:      events.AccountCreated,
	audit.PlanChanged:         events.AccountPlanChanged,
	audit.PlanAssigned:        events.AccountPlanChanged,
	audit.Suspended:           events.AccountSuspended,
	audit.MemberAdded:         events.MemberAdded,
	audit.MemberRemoved:       events.MemberRemoved,
	audit.MemberLeft:          events.MemberRemoved,
}

// auditEvent writes the event an audit entry causes, if any, with the
// current fields of the resource it names, read in the same transaction.
func (db *DB) auditEvent(tx *gorm.DB, e audit.Entry) error {
	typ, ok := eventOfAction[e.Action]
	if !ok {
		return nil
	}
	var (
		data any
		err  error
	)
	switch e.TargetType {
	case audit.TargetKey:
		data, err = keyEventData(tx, e.TargetID)
	case audit.TargetAccount:
		data, err = accountEventData(tx, e.TargetID)
	case audit.TargetMember:
		data, err = memberEventData(tx, e.AccountID, e.TargetID)
	default:
		return nil // an entry of another shape (a test's); no real change writes one
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		// An entry about nothing that exists (a log seeded by hand, or
		// by a test) tells a receiver nothing: every change writes its
		// entry after its resource, in the same transaction.
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: event %s: %w", typ, err)
	}
	return db.writeEvent(tx.Statement.Context, tx, typ, e.AccountID, data)
}

// keyEventData is what a key.* event says of a key: never its secret or
// hash, nor its display form.
func keyEventData(tx *gorm.DB, id string) (any, error) {
	var k keyRecord
	if err := tx.Where("id = ?", id).Take(&k).Error; err != nil {
		return nil, fmt.Errorf("key %s: %w", id, err)
	}
	scopes := json.RawMessage(k.Scopes)
	if !json.Valid(scopes) {
		scopes = json.RawMessage("[]")
	}
	return struct {
		KeyID         string          `json:"key_id"`
		AccountID     string          `json:"account_id"`
		Name          string          `json:"name"`
		Scopes        json.RawMessage `json:"scopes"`
		ExpiresAt     *time.Time      `json:"expires_at"`
		RevokedAt     *time.Time      `json:"revoked_at"`
		RateOverride  *int            `json:"rate_override"`
		BurstOverride *int            `json:"burst_override"`
		QuotaOverride *int64          `json:"quota_override"`
		CreatedAt     time.Time       `json:"created_at"`
		UpdatedAt     time.Time       `json:"updated_at"`
	}{k.ID, k.AccountID, k.Name, scopes, utcPtr(k.ExpiresAt), utcPtr(k.RevokedAt), k.RateOverride, k.BurstOverride, k.QuotaOverride,
		k.CreatedAt.UTC(), k.UpdatedAt.UTC()}, nil
}

func accountEventData(tx *gorm.DB, id string) (any, error) {
	var a accountRecord
	if err := tx.Where("id = ?", id).Take(&a).Error; err != nil {
		return nil, fmt.Errorf("account %s: %w", id, err)
	}
	ext := ""
	if a.ExternalID != nil {
		ext = *a.ExternalID
	}
	return struct {
		AccountID  string    `json:"account_id"`
		Name       string    `json:"name"`
		ExternalID string    `json:"external_id"`
		PlanID     string    `json:"plan_id"`
		Suspended  bool      `json:"suspended"`
		CreatedAt  time.Time `json:"created_at"`
	}{a.ID, a.Name, ext, a.PlanID, a.Suspended, a.CreatedAt.UTC()}, nil
}

// memberEventData is a member of an account: their role is "" once they
// are removed.
func memberEventData(tx *gorm.DB, accountID, userID string) (any, error) {
	var emails []string
	if err := tx.Table("users").Where("id = ?", userID).Pluck("email", &emails).Error; err != nil {
		return nil, fmt.Errorf("user %s: %w", userID, err)
	}
	var roles []string
	if err := tx.Model(&membershipRecord{}).Where("account_id = ? AND user_id = ?", accountID, userID).Pluck("role", &roles).Error; err != nil {
		return nil, fmt.Errorf("member %s: %w", userID, err)
	}
	d := struct {
		AccountID string `json:"account_id"`
		UserID    string `json:"user_id"`
		Email     string `json:"email"`
		Role      string `json:"role"`
	}{AccountID: accountID, UserID: userID}
	if len(emails) > 0 {
		d.Email = emails[0]
	}
	if len(roles) > 0 {
		d.Role = roles[0]
	}
	return d, nil
}

type outboxEventRecord struct {
	ID        string `gorm:"primaryKey"`
	Type      string
	AccountID string
	Data      string
	Queued    bool
	CreatedAt time.Time
}

func (outboxEventRecord) TableName() string { return "events" }

// writeEvent writes an event of typ about accountID ("" for none) with
// data (marshalled to a JSON object; never a secret) in the gorm
// transaction tx, and queues its fan-out in the same transaction: both
// exist exactly when tx commits.
func (db *DB) writeEvent(ctx context.Context, tx *gorm.DB, typ, accountID string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("store: event %s: %w", typ, err)
	}
	rec := outboxEventRecord{ID: events.IDPrefix + keyhold.NewID(), Type: typ, AccountID: accountID, Data: string(b),
		Queued: db.events != nil, CreatedAt: time.Now().UTC()}
	// Written with Select so that a false Queued is not taken for "use
	// the column's default" (true).
	if err := tx.Select("*").Create(&rec).Error; err != nil {
		return fmt.Errorf("store: event %s: %w", typ, err)
	}
	if db.events == nil {
		return nil
	}
	stx, err := sqlTx(tx)
	if err != nil {
		return err
	}
	if err := db.events.FanOutTx(ctx, stx, rec.ID); err != nil {
		return fmt.Errorf("store: queue event %s: %w", typ, err)
	}
	return nil
}

// sqlTx is the database/sql transaction under the gorm transaction tx.
func sqlTx(tx *gorm.DB) (*sql.Tx, error) {
	stx, ok := tx.Statement.ConnPool.(*sql.Tx)
	if !ok {
		return nil, fmt.Errorf("store: not in a database/sql transaction (%T)", tx.Statement.ConnPool)
	}
	return stx, nil
}

type endpointRecord struct {
	ID             string `gorm:"primaryKey"`
	URL            string `gorm:"column:url"`
	Description    string
	Events         string
	Enabled        bool
	Secret         string
	DisabledReason string
	FailingSince   *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

func (endpointRecord) TableName() string { return "webhook_endpoints" }

func (r *endpointRecord) domain() events.Endpoint {
	e := events.Endpoint{ID: r.ID, URL: r.URL, Description: r.Description, Events: []string{}, Enabled: r.Enabled,
		DisabledReason: r.DisabledReason, FailingSince: utcPtr(r.FailingSince), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	_ = json.Unmarshal([]byte(r.Events), &e.Events) // written by the store, always a JSON array
	return e
}

func endpointColumns(e *events.Endpoint) (map[string]any, error) {
	evs := e.Events
	if evs == nil {
		evs = []string{}
	}
	b, err := json.Marshal(evs)
	if err != nil {
		return nil, fmt.Errorf("store: endpoint events: %w", err)
	}
	return map[string]any{"url": e.URL, "description": e.Description, "events": string(b), "enabled": e.Enabled,
		"disabled_reason": e.DisabledReason, "failing_since": utcPtr(e.FailingSince), "updated_at": e.UpdatedAt.UTC()}, nil
}

// CreateEndpoint implements events.Store.
func (db *DB) CreateEndpoint(ctx context.Context, e *events.Endpoint, sealedSecret string, entry audit.Entry) error {
	cols, err := endpointColumns(e)
	if err != nil {
		return err
	}
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		rec := endpointRecord{ID: e.ID, URL: e.URL, Description: e.Description, Events: cols["events"].(string), Enabled: e.Enabled,
			Secret: sealedSecret, DisabledReason: e.DisabledReason, CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC()}
		if err := tx.Select("*").Create(&rec).Error; err != nil {
			return fmt.Errorf("store: create endpoint: %w", err)
		}
		return db.writeAudit(tx, entry)
	})
}

// Endpoints implements events.Store.
func (db *DB) Endpoints(ctx context.Context, p events.Page) ([]events.Endpoint, error) {
	q := db.ctx(ctx).Order("id DESC").Limit(p.Limit)
	if p.StartingAfter != "" {
		q = q.Where("id < ?", p.StartingAfter)
	}
	var recs []endpointRecord
	if err := q.Find(&recs).Error; err != nil {
		return nil, fmt.Errorf("store: endpoints: %w", err)
	}
	out := make([]events.Endpoint, len(recs))
	for i := range recs {
		out[i] = recs[i].domain()
	}
	return out, nil
}

// Endpoint implements events.Store.
func (db *DB) Endpoint(ctx context.Context, id string) (*events.Endpoint, error) {
	var r endpointRecord
	err := db.ctx(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, events.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: endpoint: %w", err)
	}
	e := r.domain()
	return &e, nil
}

// UpdateEndpoint implements events.Store.
func (db *DB) UpdateEndpoint(ctx context.Context, e *events.Endpoint, entry audit.Entry) error {
	cols, err := endpointColumns(e)
	if err != nil {
		return err
	}
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&endpointRecord{}).Where("id = ?", e.ID).Updates(cols)
		if res.Error != nil {
			return fmt.Errorf("store: update endpoint: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return events.ErrNotFound
		}
		return db.writeAudit(tx, entry)
	})
}

// DeleteEndpoint implements events.Store: its deliveries and attempts go
// with it (ON DELETE CASCADE).
func (db *DB) DeleteEndpoint(ctx context.Context, id string, entry audit.Entry) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		// Without relying on the foreign keys' cascade being on.
		if err := tx.Where("endpoint_id = ?", id).Delete(&attemptRecord{}).Error; err != nil {
			return fmt.Errorf("store: delete endpoint: %w", err)
		}
		if err := tx.Where("endpoint_id = ?", id).Delete(&deliveryRecord{}).Error; err != nil {
			return fmt.Errorf("store: delete endpoint: %w", err)
		}
		res := tx.Where("id = ?", id).Delete(&endpointRecord{})
		if res.Error != nil {
			return fmt.Errorf("store: delete endpoint: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return events.ErrNotFound
		}
		return db.writeAudit(tx, entry)
	})
}

// SetEndpointSecret implements events.Store.
func (db *DB) SetEndpointSecret(ctx context.Context, id, sealedSecret string, at time.Time, entry audit.Entry) error {
	return db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&endpointRecord{}).Where("id = ?", id).Updates(map[string]any{"secret": sealedSecret, "updated_at": at.UTC()})
		if res.Error != nil {
			return fmt.Errorf("store: roll secret: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return events.ErrNotFound
		}
		return db.writeAudit(tx, entry)
	})
}

type deliveryRecord struct {
	ID            string `gorm:"primaryKey"`
	EventID       string
	EndpointID    string
	Status        string
	Attempts      int
	Seq           int
	NextAttemptAt *time.Time
	DeliveredAt   *time.Time
	CreatedAt     time.Time
	EventType     string `gorm:"->"` // read only: joined from events
}

func (deliveryRecord) TableName() string { return "webhook_deliveries" }

func (r *deliveryRecord) domain() events.Delivery {
	return events.Delivery{ID: r.ID, EventID: r.EventID, EndpointID: r.EndpointID, EventType: r.EventType, Status: r.Status,
		Attempts: r.Attempts, Seq: r.Seq, NextAttemptAt: utcPtr(r.NextAttemptAt), DeliveredAt: utcPtr(r.DeliveredAt), CreatedAt: r.CreatedAt.UTC()}
}

type attemptRecord struct {
	ID          string `gorm:"primaryKey"`
	DeliveryID  string
	EndpointID  string
	EventID     string
	Attempt     int
	StartedAt   time.Time
	StatusCode  int
	Error       string
	LatencyMs   int64
	Response    string
	NextRetryAt *time.Time
	EventType   string `gorm:"->"` // read only: joined from events
}

func (attemptRecord) TableName() string { return "webhook_attempts" }

// Attempts implements events.Store.
func (db *DB) Attempts(ctx context.Context, endpointID string, limit int, before string) ([]events.Attempt, error) {
	q := db.ctx(ctx).Table("webhook_attempts AS a").Select("a.*, COALESCE(e.type, '') AS event_type").
		Joins("LEFT JOIN events e ON e.id = a.event_id").Where("a.endpoint_id = ?", endpointID)
	if before != "" {
		var b attemptRecord
		if err := db.ctx(ctx).Where("id = ? AND endpoint_id = ?", before, endpointID).Take(&b).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return []events.Attempt{}, nil
			}
			return nil, fmt.Errorf("store: attempts: %w", err)
		}
		q = q.Where("a.started_at < ? OR (a.started_at = ? AND a.id < ?)", b.StartedAt, b.StartedAt, b.ID)
	}
	var recs []attemptRecord
	if err := q.Order("a.started_at DESC, a.id DESC").Limit(limit).Scan(&recs).Error; err != nil {
		return nil, fmt.Errorf("store: attempts: %w", err)
	}
	out := make([]events.Attempt, len(recs))
	for i, r := range recs {
		out[i] = events.Attempt{ID: r.ID, DeliveryID: r.DeliveryID, EndpointID: r.EndpointID, EventID: r.EventID, EventType: r.EventType,
			Attempt: r.Attempt, StartedAt: r.StartedAt.UTC(), StatusCode: r.StatusCode, Error: r.Error,
			Latency: time.Duration(r.LatencyMs) * time.Millisecond, Response: r.Response, NextRetryAt: utcPtr(r.NextRetryAt)}
	}
	return out, nil
}

func deliveryQuery(tx *gorm.DB) *gorm.DB {
	return tx.Table("webhook_deliveries AS d").Select("d.*, COALESCE(e.type, '') AS event_type").
		Joins("LEFT JOIN events e ON e.id = d.event_id")
}

// Delivery implements events.Store.
func (db *DB) Delivery(ctx context.Context, id string) (*events.Delivery, error) {
	return delivery(db.ctx(ctx), id)
}

func delivery(tx *gorm.DB, id string) (*events.Delivery, error) {
	var recs []deliveryRecord
	if err := deliveryQuery(tx).Where("d.id = ?", id).Scan(&recs).Error; err != nil {
		return nil, fmt.Errorf("store: delivery: %w", err)
	}
	if len(recs) == 0 {
		return nil, events.ErrNotFound
	}
	d := recs[0].domain()
	return &d, nil
}

// queueDelivery queues a delivery's job of seq in tx.
func (db *DB) queueDelivery(ctx context.Context, tx *gorm.DB, id string, seq int) error {
	if db.events == nil {
		return errors.New("store: a delivery to queue, but no event queue")
	}
	stx, err := sqlTx(tx)
	if err != nil {
		return err
	}
	if err := db.events.DeliverTx(ctx, stx, id, seq); err != nil {
		return fmt.Errorf("store: queue delivery: %w", err)
	}
	return nil
}

// Redeliver implements events.Store.
func (db *DB) Redeliver(ctx context.Context, id string, now time.Time) (*events.Delivery, error) {
	var d *events.Delivery
	err := db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&deliveryRecord{}).Where("id = ?", id).
			Updates(map[string]any{"status": events.StatusPending, "seq": gorm.Expr("seq + 1"), "next_attempt_at": now.UTC(), "delivered_at": nil})
		if res.Error != nil {
			return fmt.Errorf("store: redeliver: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return events.ErrNotFound
		}
		var err error
		if d, err = delivery(tx, id); err != nil {
			return err
		}
		return db.queueDelivery(ctx, tx, id, d.Seq)
	})
	return d, err
}

// SendTest implements events.Store.
func (db *DB) SendTest(ctx context.Context, ev events.Event, endpointID string) (*events.Delivery, error) {
	var d *events.Delivery
	err := db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&endpointRecord{}).Where("id = ?", endpointID).Count(&n).Error; err != nil {
			return fmt.Errorf("store: test event: %w", err)
		}
		if n == 0 {
			return events.ErrNotFound
		}
		// Queued: it needs no fan-out, its one delivery is made here.
		rec := outboxEventRecord{ID: ev.ID, Type: ev.Type, AccountID: ev.AccountID, Data: string(ev.Data), Queued: true, CreatedAt: ev.CreatedAt.UTC()}
		if err := tx.Create(&rec).Error; err != nil {
			return fmt.Errorf("store: test event: %w", err)
		}
		dr := deliveryRecord{ID: keyhold.NewID(), EventID: ev.ID, EndpointID: endpointID, Status: events.StatusPending, Seq: 1,
			NextAttemptAt: &rec.CreatedAt, CreatedAt: rec.CreatedAt}
		if err := tx.Omit("EventType").Create(&dr).Error; err != nil {
			return fmt.Errorf("store: test event: %w", err)
		}
		dr.EventType = ev.Type
		dd := dr.domain()
		d = &dd
		return db.queueDelivery(ctx, tx, dr.ID, 1)
	})
	return d, err
}

// FanOut implements events.Store. The unique (event_id, endpoint_id)
// makes a second run, or two at once, make no second delivery.
func (db *DB) FanOut(ctx context.Context, eventID string, now time.Time) (int, error) {
	made := 0
	err := db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		var ev outboxEventRecord
		if err := tx.Where("id = ?", eventID).Take(&ev).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return events.ErrNotFound
			}
			return fmt.Errorf("store: fan out: %w", err)
		}
		if ev.Type == events.TestType {
			return nil
		}
		var eps []endpointRecord
		if err := tx.Where("enabled = ?", true).Order("id").Find(&eps).Error; err != nil {
			return fmt.Errorf("store: fan out: %w", err)
		}
		for i := range eps {
			if e := eps[i].domain(); !e.Wants(ev.Type) {
				continue
			}
			at := now.UTC()
			dr := deliveryRecord{ID: keyhold.NewID(), EventID: ev.ID, EndpointID: eps[i].ID, Status: events.StatusPending, Seq: 1,
				NextAttemptAt: &at, CreatedAt: at}
			res := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "event_id"}, {Name: "endpoint_id"}}, DoNothing: true}).
				Omit("EventType").Create(&dr)
			if res.Error != nil {
				return fmt.Errorf("store: fan out: %w", res.Error)
			}
			if res.RowsAffected == 0 {
				continue
			}
			if err := db.queueDelivery(ctx, tx, dr.ID, 1); err != nil {
				return err
			}
			made++
		}
		return nil
	})
	return made, err
}

// Work implements events.Store.
func (db *DB) Work(ctx context.Context, deliveryID string) (*events.Work, error) {
	var dr deliveryRecord
	err := db.ctx(ctx).Where("id = ?", deliveryID).Take(&dr).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, events.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: work: %w", err)
	}
	var ev outboxEventRecord
	if err := db.ctx(ctx).Where("id = ?", dr.EventID).Take(&ev).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, events.ErrNotFound
		}
		return nil, fmt.Errorf("store: work: %w", err)
	}
	var ep endpointRecord
	if err := db.ctx(ctx).Where("id = ?", dr.EndpointID).Take(&ep).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, events.ErrNotFound
		}
		return nil, fmt.Errorf("store: work: %w", err)
	}
	dr.EventType = ev.Type
	return &events.Work{Delivery: dr.domain(), Endpoint: ep.domain(), SealedSecret: ep.Secret,
		Event: events.Event{ID: ev.ID, Type: ev.Type, AccountID: ev.AccountID, Data: json.RawMessage(ev.Data), CreatedAt: ev.CreatedAt.UTC()}}, nil
}

// RecordAttempt implements events.Store.
func (db *DB) RecordAttempt(ctx context.Context, a events.Attempt, o events.Outcome) (string, error) {
	var disabled string
	err := db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		ar := attemptRecord{ID: keyhold.NewID(), DeliveryID: a.DeliveryID, EndpointID: a.EndpointID, EventID: a.EventID, Attempt: a.Attempt,
			StartedAt: a.StartedAt.UTC(), StatusCode: a.StatusCode, Error: a.Error, LatencyMs: a.Latency.Milliseconds(),
			Response: a.Response, NextRetryAt: utcPtr(a.NextRetryAt)}
		if err := tx.Omit("EventType").Create(&ar).Error; err != nil {
			return fmt.Errorf("store: record attempt: %w", err)
		}
		set := map[string]any{"status": o.Status, "attempts": a.Attempt, "next_attempt_at": utcPtr(o.NextAttemptAt)}
		if o.Status == events.StatusDelivered {
			set["delivered_at"] = a.StartedAt.UTC()
		}
		// Only the job of the current seq moves the delivery on: one that
		// a Resend superseded while it was sending leaves it to the new one.
		if err := tx.Model(&deliveryRecord{}).Where("id = ? AND seq = ? AND status = ?", a.DeliveryID, o.Seq, events.StatusPending).
			Updates(set).Error; err != nil {
			return fmt.Errorf("store: record attempt: %w", err)
		}
		ep := tx.Model(&endpointRecord{}).Where("id = ?", a.EndpointID)
		var err error
		switch {
		case o.Succeeded:
			err = ep.Where("failing_since IS NOT NULL").Update("failing_since", nil).Error
		default:
			err = ep.Where("failing_since IS NULL").Update("failing_since", a.StartedAt.UTC()).Error
		}
		if err != nil {
			return fmt.Errorf("store: record attempt: endpoint: %w", err)
		}
		disable := o.Disable
		if disable == "" && o.DisableIfFailingSince != nil {
			var n int64
			if err := tx.Model(&endpointRecord{}).Where("id = ? AND enabled = ? AND failing_since <= ?", a.EndpointID, true, o.DisableIfFailingSince.UTC()).
				Count(&n).Error; err != nil {
				return fmt.Errorf("store: record attempt: endpoint: %w", err)
			}
			if n > 0 {
				disable = events.DisabledFailing
			}
		}
		if disable == "" {
			return nil
		}
		res := tx.Model(&endpointRecord{}).Where("id = ? AND enabled = ?", a.EndpointID, true).
			Updates(map[string]any{"enabled": false, "disabled_reason": disable, "updated_at": a.StartedAt.UTC()})
		if res.Error != nil {
			return fmt.Errorf("store: disable endpoint: %w", res.Error)
		}
		if res.RowsAffected > 0 {
			disabled = disable
		}
		if err := tx.Model(&deliveryRecord{}).Where("endpoint_id = ? AND status = ?", a.EndpointID, events.StatusPending).
			Updates(map[string]any{"status": events.StatusCanceled, "next_attempt_at": nil}).Error; err != nil {
			return fmt.Errorf("store: cancel deliveries: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return disabled, nil
}

// CancelDelivery implements events.Store.
func (db *DB) CancelDelivery(ctx context.Context, id string, seq int) error {
	if err := db.ctx(ctx).Model(&deliveryRecord{}).Where("id = ? AND seq = ? AND status = ?", id, seq, events.StatusPending).
		Updates(map[string]any{"status": events.StatusCanceled, "next_attempt_at": nil}).Error; err != nil {
		return fmt.Errorf("store: cancel delivery: %w", err)
	}
	return nil
}

// QueueUnqueued implements events.Store.
func (db *DB) QueueUnqueued(ctx context.Context, limit int) (int, error) {
	if db.events == nil {
		return 0, errors.New("store: events to queue, but no event queue")
	}
	n := 0
	err := db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		var ids []string
		if err := tx.Model(&outboxEventRecord{}).Where("queued = ?", false).Order("id").Limit(limit).Pluck("id", &ids).Error; err != nil {
			return fmt.Errorf("store: unqueued events: %w", err)
		}
		stx, err := sqlTx(tx)
		if err != nil {
			return err
		}
		for _, id := range ids {
			// The update first: of two sweeps at once, the one that
			// does not flip the row queues nothing.
			res := tx.Model(&outboxEventRecord{}).Where("id = ? AND queued = ?", id, false).Update("queued", true)
			if res.Error != nil {
				return fmt.Errorf("store: unqueued events: %w", res.Error)
			}
			if res.RowsAffected == 0 {
				continue
			}
			if err := db.events.FanOutTx(ctx, stx, id); err != nil {
				return fmt.Errorf("store: queue event: %w", err)
			}
			n++
		}
		return nil
	})
	return n, err
}

// DeleteEventsBefore implements events.Store.
func (db *DB) DeleteEventsBefore(ctx context.Context, t time.Time) (int64, error) {
	var n int64
	err := db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		old := tx.Model(&outboxEventRecord{}).Select("id").Where("created_at < ?", t.UTC())
		if err := tx.Where("event_id IN (?)", old).Delete(&attemptRecord{}).Error; err != nil {
			return fmt.Errorf("store: delete events: %w", err)
		}
		if err := tx.Where("event_id IN (?)", old).Delete(&deliveryRecord{}).Error; err != nil {
			return fmt.Errorf("store: delete events: %w", err)
		}
		res := tx.Where("created_at < ?", t.UTC()).Delete(&outboxEventRecord{})
		if res.Error != nil {
			return fmt.Errorf("store: delete events: %w", res.Error)
		}
		n = res.RowsAffected
		return nil
	})
	return n, err
}
