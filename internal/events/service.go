package events

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
)

// Endpoint is where events are delivered: a URL that receives the types it
// subscribes to, signed with its own secret (never part of an Endpoint).
type Endpoint struct {
	ID          string
	URL         string
	Description string
	// Events are the types it receives; empty: every type.
	Events  []string
	Enabled bool
	// DisabledReason says why an endpoint that is not enabled was turned
	// off: DisabledGone, DisabledFailing, DisabledOperator, or "".
	DisabledReason string
	// FailingSince is the first failed attempt since its last success;
	// nil while it is succeeding (or was never tried).
	FailingSince *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Wants reports whether the endpoint subscribes to typ.
func (e *Endpoint) Wants(typ string) bool {
	return len(e.Events) == 0 || slices.Contains(e.Events, typ)
}

// Why an endpoint was disabled (Endpoint.DisabledReason).
const (
	DisabledGone     = "gone"     // it answered 410 Gone
	DisabledFailing  = "failing"  // every attempt failed for DeliveryConfig.FailingLimit
	DisabledOperator = "operator" // turned off by an operator or a root key
)

// MaxDescription is the longest description an endpoint may have, in
// characters.
const MaxDescription = 500

// Delivery is one event to one endpoint.
type Delivery struct {
	ID, EventID, EndpointID string
	EventType               string
	Status                  string // StatusPending, …
	Attempts                int    // made so far
	// Seq numbers the delivery's jobs: a Resend makes the next one, and
	// a job of an older seq that is still waiting does nothing.
	Seq           int
	NextAttemptAt *time.Time
	DeliveredAt   *time.Time
	CreatedAt     time.Time
}

// Statuses of a Delivery.
const (
	StatusPending   = "pending"   // attempts to come
	StatusDelivered = "delivered" // a 2xx came
	StatusFailed    = "failed"    // every attempt failed, or the endpoint answered 410
	StatusCanceled  = "canceled"  // the endpoint was disabled before it was delivered
)

// Attempt is one try of a delivery, as the delivery log shows it.
type Attempt struct {
	ID, DeliveryID, EndpointID, EventID string
	EventType                           string
	Attempt                             int // 1, 2, … of the delivery
	StartedAt                           time.Time
	StatusCode                          int    // 0: no answer
	Error                               string // why no answer came (timeout, refused address, …); "" when one did
	Latency                             time.Duration
	Response                            string     // the first 1 KiB of the answer
	NextRetryAt                         *time.Time // nil: no retry (delivered, or given up)
}

// Page selects a page of endpoints: those created before the endpoint
// StartingAfter (newest first), at most Limit (default 50, at most 100).
type Page struct {
	StartingAfter string
	Limit         int
}

// EndpointInput is a new endpoint.
type EndpointInput struct {
	URL         string
	Description string
	Events      []string // empty: every type
	Enabled     bool
}

// EndpointPatch changes the fields that are not nil.
type EndpointPatch struct {
	URL         *string
	Description *string
	Events      *[]string
	Enabled     *bool
}

// ErrNotFound is what the Store returns for an endpoint or a delivery that
// does not exist.
var ErrNotFound = errors.New("events: not found")

// Store keeps endpoints, events, deliveries and attempts (internal/store).
// Each method that takes an audit.Entry writes it in the transaction of
// its change.
type Store interface {
	CreateEndpoint(ctx context.Context, e *Endpoint, sealedSecret string, entry audit.Entry) error
	// Endpoints lists endpoints newest first.
	Endpoints(ctx context.Context, p Page) ([]Endpoint, error)
	Endpoint(ctx context.Context, id string) (*Endpoint, error)
	// UpdateEndpoint saves e's URL, description, events, enabled,
	// disabled reason, failing since and updated at.
	UpdateEndpoint(ctx context.Context, e *Endpoint, entry audit.Entry) error
	DeleteEndpoint(ctx context.Context, id string, entry audit.Entry) error
	SetEndpointSecret(ctx context.Context, id, sealedSecret string, at time.Time, entry audit.Entry) error
	// Attempts returns an endpoint's attempts newest first, those before
	// the attempt before ("" from the newest), at most limit.
	Attempts(ctx context.Context, endpointID string, limit int, before string) ([]Attempt, error)
	// Delivery returns one delivery.
	Delivery(ctx context.Context, id string) (*Delivery, error)
	// Redeliver makes a delivery pending again with the next seq and
	// queues its job, in one transaction.
	Redeliver(ctx context.Context, id string, now time.Time) (*Delivery, error)
	// SendTest writes ev and a delivery of it to endpointID, and queues
	// its job, in one transaction (no fan-out).
	SendTest(ctx context.Context, ev Event, endpointID string) (*Delivery, error)

	// FanOut makes a pending delivery of the event, and queues its job,
	// for every enabled endpoint that wants its type and has none yet, in
	// one transaction; it returns how many it made.
	FanOut(ctx context.Context, eventID string, now time.Time) (int, error)
	// Work returns what a delivery's job needs: the delivery, its event,
	// its endpoint and the endpoint's sealed secret.
	Work(ctx context.Context, deliveryID string) (*Work, error)
	// RecordAttempt writes an attempt and its consequences (Outcome) in
	// one transaction; it returns the reason the endpoint was disabled
	// for, "" when it was not.
	RecordAttempt(ctx context.Context, a Attempt, o Outcome) (disabled string, err error)
	// CancelDelivery marks a pending delivery of seq canceled.
	CancelDelivery(ctx context.Context, id string, seq int) error
	// QueueUnqueued queues the fan-out of up to limit events written
	// without a queue (the command line), returning how many.
	QueueUnqueued(ctx context.Context, limit int) (int, error)
	// DeleteEventsBefore deletes events (with their deliveries and
	// attempts) created before t, returning how many.
	DeleteEventsBefore(ctx context.Context, t time.Time) (int64, error)
}

// Work is what a delivery's job reads.
type Work struct {
	Delivery     Delivery
	Event        Event
	Endpoint     Endpoint
	SealedSecret string
}

// Outcome is what an attempt means for its delivery and its endpoint.
type Outcome struct {
	Seq    int    // the delivery's seq the attempt was made for
	Status string // the delivery's status after it
	// NextAttemptAt is when the next attempt is due (Status pending).
	NextAttemptAt *time.Time
	// Succeeded clears the endpoint's FailingSince; otherwise it is set
	// to the attempt's time when empty.
	Succeeded bool
	// Disable, when not "", disables the endpoint for this reason and
	// cancels its other pending deliveries.
	Disable string
	// DisableIfFailingSince disables the endpoint (DisabledFailing) when
	// its FailingSince, after this attempt, is not after it.
	DisableIfFailingSince *time.Time
}

// Config configures a Service.
type Config struct {
	Store Store
	// Secret is the instance secret: endpoint secrets are sealed under a
	// key derived from it.
	Secret []byte
	// AllowInsecure is KEYHOLD_WEBHOOKS_ALLOW_INSECURE: http:// URLs to a
	// loopback host may be saved.
	AllowInsecure bool
	Now           func() time.Time // default time.Now
}

// Service manages webhook endpoints and what was delivered to them.
//
// Who may call it is the caller's business: operators in the console, and
// root keys with the webhooks.write permission through the API, which
// checks the permission before calling (as team.Authorize lets a root
// key's actor through). The service trusts its caller and records the
// actor in the audit log. Endpoints belong to the instance, not to an
// account: their audit entries name none.
type Service struct {
	store         Store
	sealer        *sealer
	allowInsecure bool
	now           func() time.Time
}

// NewService returns a Service.
func NewService(c Config) (*Service, error) {
	if c.Store == nil {
		return nil, errors.New("events: a Store is required")
	}
	s, err := newSealer(c.Secret)
	if err != nil {
		return nil, err
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Service{store: c.Store, sealer: s, allowInsecure: c.AllowInsecure, now: c.Now}, nil
}

// CreateEndpoint saves a new endpoint and returns it with its signing
// secret ("whsec_…"), which is shown this once: only a sealed copy is
// kept, to sign with.
func (s *Service) CreateEndpoint(ctx context.Context, actor audit.Actor, in EndpointInput) (Endpoint, string, error) {
	var fe keyhold.FieldErrors
	u := s.checkURL(&fe, in.URL)
	desc := checkDescription(&fe, in.Description)
	evs := checkEvents(&fe, in.Events)
	if len(fe) > 0 {
		return Endpoint{}, "", fe.Err()
	}
	now := s.now().UTC()
	e := Endpoint{ID: "we_" + keyhold.NewID(), URL: u, Description: desc, Events: evs, Enabled: in.Enabled,
		CreatedAt: now, UpdatedAt: now}
	if !in.Enabled {
		e.DisabledReason = DisabledOperator
	}
	secret, err := NewSecret()
	if err != nil {
		return Endpoint{}, "", fmt.Errorf("events: new secret: %w", err)
	}
	entry := actor.Entry("", audit.WebhookEndpointCreated, audit.TargetWebhookEndpoint, e.ID,
		fmt.Sprintf("Created a webhook endpoint to %s (%s)", hostOf(u), describeEvents(evs)), now)
	if err := s.store.CreateEndpoint(ctx, &e, s.sealer.seal(e.ID, secret), entry); err != nil {
		return Endpoint{}, "", fmt.Errorf("events: create endpoint: %w", err)
	}
	return e, secret, nil
}

// Endpoints returns a page of endpoints, newest first.
func (s *Service) Endpoints(ctx context.Context, p Page) ([]Endpoint, error) {
	if p.Limit <= 0 {
		p.Limit = 50
	}
	p.Limit = min(p.Limit, 100)
	list, err := s.store.Endpoints(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("events: endpoints: %w", err)
	}
	return list, nil
}

// Endpoint returns one endpoint; ENOTFOUND when there is none.
func (s *Service) Endpoint(ctx context.Context, id string) (Endpoint, error) {
	e, err := s.store.Endpoint(ctx, id)
	if err != nil {
		return Endpoint{}, notFound(err, "webhook endpoint")
	}
	return *e, nil
}

// UpdateEndpoint changes the fields p sets. Disabling records the reason
// DisabledOperator; enabling clears the reason and FailingSince, so an
// endpoint disabled for failing gets five more days. Deliveries that were
// canceled while it was off are not resumed (Resend sends one again).
func (s *Service) UpdateEndpoint(ctx context.Context, actor audit.Actor, id string, p EndpointPatch) (Endpoint, error) {
	cur, err := s.store.Endpoint(ctx, id)
	if err != nil {
		return Endpoint{}, notFound(err, "webhook endpoint")
	}
	e := *cur
	var fe keyhold.FieldErrors
	var changed []string
	if p.URL != nil {
		if u := s.checkURL(&fe, *p.URL); u != e.URL {
			e.URL, changed = u, append(changed, "URL")
		}
	}
	if p.Description != nil {
		if d := checkDescription(&fe, *p.Description); d != e.Description {
			e.Description, changed = d, append(changed, "description")
		}
	}
	if p.Events != nil {
		if evs := checkEvents(&fe, *p.Events); !slices.Equal(evs, e.Events) {
			e.Events, changed = evs, append(changed, "events")
		}
	}
	if len(fe) > 0 {
		return Endpoint{}, fe.Err()
	}
	if p.Enabled != nil && *p.Enabled != e.Enabled {
		e.Enabled = *p.Enabled
		if e.Enabled {
			e.DisabledReason, e.FailingSince = "", nil
			changed = append(changed, "enabled")
		} else {
			e.DisabledReason = DisabledOperator
			changed = append(changed, "disabled")
		}
	}
	if len(changed) == 0 {
		return e, nil
	}
	now := s.now().UTC()
	e.UpdatedAt = now
	entry := actor.Entry("", audit.WebhookEndpointUpdated, audit.TargetWebhookEndpoint, e.ID,
		fmt.Sprintf("Updated the webhook endpoint to %s: %s", hostOf(e.URL), strings.Join(changed, ", ")), now)
	if err := s.store.UpdateEndpoint(ctx, &e, entry); err != nil {
		return Endpoint{}, notFound(err, "webhook endpoint")
	}
	return e, nil
}

// DeleteEndpoint deletes an endpoint with its deliveries and attempt log;
// jobs still waiting to deliver to it do nothing.
func (s *Service) DeleteEndpoint(ctx context.Context, actor audit.Actor, id string) error {
	cur, err := s.store.Endpoint(ctx, id)
	if err != nil {
		return notFound(err, "webhook endpoint")
	}
	now := s.now().UTC()
	entry := actor.Entry("", audit.WebhookEndpointDeleted, audit.TargetWebhookEndpoint, id,
		"Deleted the webhook endpoint to "+hostOf(cur.URL), now)
	if err := s.store.DeleteEndpoint(ctx, id, entry); err != nil {
		return notFound(err, "webhook endpoint")
	}
	return nil
}

// RollSecret gives an endpoint a new signing secret and returns it (shown
// once). The old secret stops signing at once: every attempt from now on,
// retries of earlier events included, is signed with the new one only, so
// the receiver must be given the new secret before or right after rolling.
func (s *Service) RollSecret(ctx context.Context, actor audit.Actor, id string) (string, error) {
	cur, err := s.store.Endpoint(ctx, id)
	if err != nil {
		return "", notFound(err, "webhook endpoint")
	}
	secret, err := NewSecret()
	if err != nil {
		return "", fmt.Errorf("events: new secret: %w", err)
	}
	now := s.now().UTC()
	entry := actor.Entry("", audit.WebhookEndpointSecretRolled, audit.TargetWebhookEndpoint, id,
		"Rolled the signing secret of the webhook endpoint to "+hostOf(cur.URL), now)
	if err := s.store.SetEndpointSecret(ctx, id, s.sealer.seal(id, secret), now, entry); err != nil {
		return "", notFound(err, "webhook endpoint")
	}
	return secret, nil
}

// Attempts returns an endpoint's delivery log, newest first: at most limit
// attempts (default 50, at most 200) older than the attempt before ("":
// from the newest). ENOTFOUND when the endpoint does not exist.
func (s *Service) Attempts(ctx context.Context, endpointID string, limit int, before string) ([]Attempt, error) {
	if _, err := s.store.Endpoint(ctx, endpointID); err != nil {
		return nil, notFound(err, "webhook endpoint")
	}
	if limit <= 0 {
		limit = 50
	}
	list, err := s.store.Attempts(ctx, endpointID, min(limit, 200), before)
	if err != nil {
		return nil, fmt.Errorf("events: attempts: %w", err)
	}
	return list, nil
}

// Resend delivers a delivery's message again, now: the same webhook-id and
// body, a new signature and timestamp, attempts numbered on from the last
// one, and the whole retry schedule again if it fails. A delivery still
// pending is sent now instead of at its next retry. EINVALID when its
// endpoint is disabled (enable it first). The actor is for the caller's
// checks; a resend changes no configuration and is not audited.
func (s *Service) Resend(ctx context.Context, _ audit.Actor, deliveryID string) (Delivery, error) {
	d, err := s.store.Delivery(ctx, deliveryID)
	if err != nil {
		return Delivery{}, notFound(err, "delivery")
	}
	if err := s.requireEnabled(ctx, d.EndpointID); err != nil {
		return Delivery{}, err
	}
	d, err = s.store.Redeliver(ctx, deliveryID, s.now().UTC())
	if err != nil {
		return Delivery{}, notFound(err, "delivery")
	}
	return *d, nil
}

// SendTest sends the endpoint a message of TestType now, through the same
// queue, signing and retries as any event; its data names the endpoint.
// EINVALID when the endpoint is disabled. Not audited (see Resend).
func (s *Service) SendTest(ctx context.Context, _ audit.Actor, endpointID string) (Delivery, error) {
	if err := s.requireEnabled(ctx, endpointID); err != nil {
		return Delivery{}, err
	}
	now := s.now().UTC()
	data := fmt.Sprintf(`{"endpoint_id":%q,"message":"A test event sent from Keyhold."}`, endpointID)
	ev := Event{ID: IDPrefix + keyhold.NewID(), Type: TestType, Data: []byte(data), CreatedAt: now}
	d, err := s.store.SendTest(ctx, ev, endpointID)
	if err != nil {
		return Delivery{}, notFound(err, "webhook endpoint")
	}
	return *d, nil
}

func (s *Service) requireEnabled(ctx context.Context, endpointID string) error {
	e, err := s.store.Endpoint(ctx, endpointID)
	if err != nil {
		return notFound(err, "webhook endpoint")
	}
	if !e.Enabled {
		return keyhold.Errorf(keyhold.EINVALID, "The webhook endpoint is disabled; enable it first.")
	}
	return nil
}

// checkURL validates a URL with CheckURL, recording its message for the
// field url.
func (s *Service) checkURL(fe *keyhold.FieldErrors, raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		fe.Add("url", "Enter the URL events are sent to.")
		return raw
	}
	fe.AddErr("url", CheckURL(raw, s.allowInsecure))
	return raw
}

func checkDescription(fe *keyhold.FieldErrors, d string) string {
	d = strings.TrimSpace(d)
	if !utf8.ValidString(d) || strings.ContainsFunc(d, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' }) {
		fe.Add("description", "The description holds characters that cannot be shown.")
	} else if utf8.RuneCountInString(d) > MaxDescription {
		fe.Add("description", fmt.Sprintf("The description is at most %d characters.", MaxDescription))
	}
	return d
}

// checkEvents checks every type is known and drops repeats, keeping the
// order given.
func checkEvents(fe *keyhold.FieldErrors, in []string) []string {
	out := []string{}
	for _, t := range in {
		t = strings.TrimSpace(t)
		if !KnownType(t) {
			fe.Add("events", fmt.Sprintf("%q is not an event type; the types are %s.", t, strings.Join(Types, ", ")))
			continue
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// hostOf is what an audit entry says of an endpoint's URL: its host only,
// since a receiver's path or query may hold a token of its own.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "an endpoint"
	}
	return u.Host
}

func describeEvents(evs []string) string {
	if len(evs) == 0 {
		return "every event"
	}
	return strings.Join(evs, ", ")
}

// notFound turns the store's ErrNotFound into ENOTFOUND naming what.
func notFound(err error, what string) error {
	if errors.Is(err, ErrNotFound) {
		return &keyhold.Error{Code: keyhold.ENOTFOUND, Message: "No such " + what + ".", Err: err}
	}
	return fmt.Errorf("events: %s: %w", what, err)
}
