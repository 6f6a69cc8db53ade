package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/riverqueue/river"
)

// Queue is the River queue of webhook jobs. It is a queue of its own, with
// workers of its own (DeliveryConfig.Workers), so mail and key rotation
// never wait behind webhooks, nor webhooks behind them.
const Queue = "webhooks"

// Schedule is DESIGN's retry schedule: the wait before attempts 2 to 8,
// each after the one before (the first is at once). After the eighth
// failure the delivery has failed.
var Schedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// FailingLimit is how long an endpoint may fail every attempt before it
// is disabled (DisabledFailing).
const FailingLimit = 5 * 24 * time.Hour

// FanOutArgs is the job written with every event (in its transaction): it
// makes the event's deliveries.
type FanOutArgs struct {
	EventID string `json:"event_id"`
}

// Kind implements river.JobArgs.
func (FanOutArgs) Kind() string { return "webhook.fanout" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (FanOutArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue} }

// DeliverArgs is the job of one delivery (of one seq): it makes attempts
// until one succeeds or the schedule ends, snoozing in between.
type DeliverArgs struct {
	DeliveryID string `json:"delivery_id"`
	Seq        int    `json:"seq"`
}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return "webhook.deliver" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (DeliverArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue} }

// sweepArgs is the periodic job that fans out events written without a
// queue and deletes old events.
type sweepArgs struct{}

func (sweepArgs) Kind() string { return "webhook.sweep" }

func (sweepArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue} }

// Inserter puts a job in a transaction (jobs.Queue).
type Inserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs) (int64, error)
}

// Jobs queues the jobs of events and deliveries in the caller's
// transaction; it implements store.EventQueue.
type Jobs struct{ jobs Inserter }

// NewJobs returns Jobs inserting into jobs.
func NewJobs(jobs Inserter) *Jobs { return &Jobs{jobs: jobs} }

// FanOutTx queues the fan-out of an event in tx.
func (j *Jobs) FanOutTx(ctx context.Context, tx *sql.Tx, eventID string) error {
	_, err := j.jobs.InsertTx(ctx, tx, FanOutArgs{EventID: eventID})
	return err
}

// DeliverTx queues a delivery's job of seq in tx.
func (j *Jobs) DeliverTx(ctx context.Context, tx *sql.Tx, deliveryID string, seq int) error {
	_, err := j.jobs.InsertTx(ctx, tx, DeliverArgs{DeliveryID: deliveryID, Seq: seq})
	return err
}

// DeliveryConfig configures a Deliverer.
type DeliveryConfig struct {
	Store  Store
	Secret []byte // the instance secret, which endpoint secrets are sealed under
	Sender SenderConfig
	// Schedule is the wait before each attempt after the first; nil:
	// Schedule. Tests use a short one.
	Schedule []time.Duration
	// PerEndpoint is how many deliveries to one endpoint this instance
	// makes at once; default 2.
	PerEndpoint int
	// Workers is how many webhook jobs this instance works at once (the
	// size of Queue); default 16.
	Workers int
	// FailingLimit: default FailingLimit.
	FailingLimit time.Duration
	// Busy is how long a delivery waits when its endpoint has
	// PerEndpoint deliveries in flight here (plus up to as much again at
	// random, so the waiting ones do not come back together); default 2s.
	Busy time.Duration
	// Retention is how long events (with their deliveries and attempts)
	// are kept; default 30 days.
	Retention time.Duration
	Logger    *slog.Logger
	Now       func() time.Time
}

// Deliverer works the webhook jobs.
//
// At most PerEndpoint deliveries to one endpoint run at once on an
// instance: a delivery whose endpoint is at the limit snoozes (River puts
// it back for Busy, without counting an attempt) and frees its worker at
// once. So one slow receiver holds at most PerEndpoint of the Workers
// workers of Queue, for at most the send timeout each, and the others go
// on delivering to everyone else. A dedicated queue alone would not do
// it: a burst of events to one slow endpoint would fill all its workers.
// The limit is per instance (N instances: at most N × PerEndpoint), which
// keeps it free of any shared lock.
//
// Several instances deliver each message once: River gives a job to one
// worker at a time, the delivery row's status and seq are checked before
// sending (a job of a delivered, canceled or superseded delivery does
// nothing), and the fan-out makes at most one delivery per event and
// endpoint (a unique index), however often it runs. A crash between the
// send and the record can repeat an attempt: receivers dedupe on
// webhook-id, as Standard Webhooks asks.
type Deliverer struct {
	store        Store
	sealer       *sealer
	sender       *Sender
	schedule     []time.Duration
	perEndpoint  int
	workers      int
	failingLimit time.Duration
	busy         time.Duration
	retention    time.Duration
	timeout      time.Duration
	log          *slog.Logger
	now          func() time.Time

	mu       sync.Mutex
	inFlight map[string]int // endpoint id → deliveries running here
}

// NewDeliverer returns a Deliverer.
func NewDeliverer(c DeliveryConfig) (*Deliverer, error) {
	if c.Store == nil || c.Logger == nil {
		return nil, errors.New("events: a Store and a Logger are required")
	}
	s, err := newSealer(c.Secret)
	if err != nil {
		return nil, err
	}
	d := &Deliverer{store: c.Store, sealer: s, sender: NewSender(c.Sender), schedule: c.Schedule,
		perEndpoint: c.PerEndpoint, workers: c.Workers, failingLimit: c.FailingLimit, busy: c.Busy,
		retention: c.Retention, timeout: c.Sender.Timeout, log: c.Logger, now: c.Now, inFlight: map[string]int{}}
	if d.schedule == nil {
		d.schedule = Schedule
	}
	if d.perEndpoint <= 0 {
		d.perEndpoint = 2
	}
	if d.workers <= 0 {
		d.workers = 16
	}
	if d.failingLimit <= 0 {
		d.failingLimit = FailingLimit
	}
	if d.busy <= 0 {
		d.busy = 2 * time.Second
	}
	if d.retention <= 0 {
		d.retention = 30 * 24 * time.Hour
	}
	if d.timeout <= 0 {
		d.timeout = 10 * time.Second
	}
	if d.now == nil {
		d.now = time.Now
	}
	return d, nil
}

// Register adds the webhook workers to workers and returns the periodic
// job (the sweep) and the size of Queue, for jobs.Config.
func (d *Deliverer) Register(workers *river.Workers) (periodic *river.PeriodicJob, queueWorkers int) {
	river.AddWorker(workers, &fanOutWorker{d: d})
	river.AddWorker(workers, &deliverWorker{d: d})
	river.AddWorker(workers, &sweepWorker{d: d})
	p := river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
		func() (river.JobArgs, *river.InsertOpts) { return sweepArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})
	return p, d.workers
}

type fanOutWorker struct {
	river.WorkerDefaults[FanOutArgs]
	d *Deliverer
}

func (w *fanOutWorker) Work(ctx context.Context, job *river.Job[FanOutArgs]) error {
	if _, err := w.d.store.FanOut(ctx, job.Args.EventID, w.d.now().UTC()); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil // deleted by the retention sweep before it was fanned out
		}
		return fmt.Errorf("events: fan out %s: %w", job.Args.EventID, err)
	}
	return nil
}

type sweepWorker struct {
	river.WorkerDefaults[sweepArgs]
	d *Deliverer
}

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[sweepArgs]) error {
	for {
		n, err := w.d.store.QueueUnqueued(ctx, 500)
		if err != nil {
			return fmt.Errorf("events: sweep: %w", err)
		}
		if n < 500 {
			break
		}
	}
	if _, err := w.d.store.DeleteEventsBefore(ctx, w.d.now().Add(-w.d.retention)); err != nil {
		return fmt.Errorf("events: sweep: %w", err)
	}
	return nil
}

type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	d *Deliverer
}

// Timeout bounds a job: the send's own timeout and time to record it.
func (w *deliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration {
	return w.d.timeout + 30*time.Second
}

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	return w.d.attempt(ctx, job.Args)
}

// acquire takes one of the endpoint's PerEndpoint places; false when all
// are taken.
func (d *Deliverer) acquire(endpointID string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inFlight[endpointID] >= d.perEndpoint {
		return false
	}
	d.inFlight[endpointID]++
	return true
}

func (d *Deliverer) release(endpointID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inFlight[endpointID]--; d.inFlight[endpointID] <= 0 {
		delete(d.inFlight, endpointID)
	}
}

// attempt makes one attempt of a delivery, records it, and returns what
// River should do next: nothing (done), or a snooze until the next
// attempt is due.
func (d *Deliverer) attempt(ctx context.Context, a DeliverArgs) error {
	w, err := d.store.Work(ctx, a.DeliveryID)
	if errors.Is(err, ErrNotFound) {
		return nil // its endpoint (or event) was deleted
	}
	if err != nil {
		return fmt.Errorf("events: delivery %s: %w", a.DeliveryID, err)
	}
	if w.Delivery.Status != StatusPending || w.Delivery.Seq != a.Seq {
		return nil // delivered, given up, canceled, or superseded by a Resend
	}
	if !w.Endpoint.Enabled {
		return d.store.CancelDelivery(ctx, a.DeliveryID, a.Seq)
	}
	if due := w.Delivery.NextAttemptAt; due != nil && due.After(d.now()) {
		return river.JobSnooze(due.Sub(d.now())) // a job rescued early, say
	}
	if !d.acquire(w.Endpoint.ID) {
		return river.JobSnooze(d.busy + rand.N(d.busy))
	}
	defer d.release(w.Endpoint.ID)
	secret, err := d.sealer.open(w.Endpoint.ID, w.SealedSecret)
	if err != nil {
		d.log.Error("webhook not sent", "endpoint_id", w.Endpoint.ID, "delivery_id", a.DeliveryID, "err", err)
		return river.JobCancel(err) // no retry opens it; rolling the secret and Resend mend it
	}
	key, err := ParseSecret(secret)
	if err != nil {
		return river.JobCancel(fmt.Errorf("events: endpoint %s: the stored secret is malformed", w.Endpoint.ID))
	}
	body, err := w.Event.Body()
	if err != nil {
		return river.JobCancel(fmt.Errorf("events: event %s: %w", w.Event.ID, err))
	}
	start := d.now().UTC()
	res := d.sender.Send(ctx, w.Endpoint.URL, key, Message{ID: w.Event.ID, Timestamp: start, Body: body})

	n := w.Delivery.Attempts + 1
	at := Attempt{DeliveryID: a.DeliveryID, EndpointID: w.Endpoint.ID, EventID: w.Event.ID, EventType: w.Event.Type,
		Attempt: n, StartedAt: start, StatusCode: res.Status, Latency: res.Latency, Response: res.Response}
	if res.Err != nil {
		at.Error = res.Err.Error()
	}
	o := Outcome{Seq: a.Seq}
	var wait time.Duration
	switch {
	case res.Delivered():
		o.Status, o.Succeeded = StatusDelivered, true
	case res.Gone():
		o.Status, o.Disable = StatusFailed, DisabledGone
	case n > len(d.schedule):
		o.Status = StatusFailed
	default:
		wait = d.schedule[n-1]
		next := start.Add(wait)
		o.Status, o.NextAttemptAt, at.NextRetryAt = StatusPending, &next, &next
	}
	if !o.Succeeded && o.Disable == "" {
		limit := start.Add(-d.failingLimit)
		o.DisableIfFailingSince = &limit
	}
	// The record must be written even when the job's context ended
	// during the send: the attempt was made.
	disabled, err := d.store.RecordAttempt(context.WithoutCancel(ctx), at, o)
	if err != nil {
		return fmt.Errorf("events: record attempt %d of %s: %w", n, a.DeliveryID, err)
	}
	switch {
	case disabled == DisabledGone:
		d.log.Warn("webhook endpoint disabled: it answered 410 Gone", "endpoint_id", w.Endpoint.ID)
	case disabled == DisabledFailing:
		d.log.Warn("webhook endpoint disabled: every attempt failed for "+d.failingLimit.String(), "endpoint_id", w.Endpoint.ID)
	case o.Status == StatusFailed:
		d.log.Warn("webhook delivery failed after its last attempt", "endpoint_id", w.Endpoint.ID, "delivery_id", a.DeliveryID, "attempts", n)
	}
	if o.Status == StatusPending {
		return river.JobSnooze(wait)
	}
	return nil
}
