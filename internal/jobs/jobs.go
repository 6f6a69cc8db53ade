// Package jobs is Keyhold's durable background work: a River queue kept in
// Keyhold's own database (SQLite or PostgreSQL), whose tables come through
// Keyhold's migrations (0009). A job is inserted in the transaction of the
// change that calls for it, so it exists exactly when the change does; it is
// retried with backoff, survives restarts, and is worked by one instance at
// a time however many share the database. Mail (internal/mail) is its first
// user; outbound webhooks will be the next.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
)

// Config configures a Queue.
type Config struct {
	// DB is the application's pool (gorm's DB()): jobs live in the same
	// database and are inserted in its transactions.
	DB *sql.DB
	// PostgresURL is set when DB is PostgreSQL: a pool of one connection
	// of its own listens for new jobs (LISTEN through River's pgx v5
	// driver), so a job is picked up at once rather than at the next poll.
	PostgresURL string
	// Workers works the jobs; nil makes a queue that only inserts (the
	// command line: the server's queue sends what it inserts).
	Workers *river.Workers
	// Concurrency is how many jobs this instance works at once; default 4.
	Concurrency int
	// Queues are more queues than River's default one, each with how
	// many of its jobs this instance works at once (only with Workers):
	// work that must not wait behind the rest, nor hold it up (webhooks).
	Queues map[string]int
	// Logger receives River's warnings and errors. River logs a failed
	// job's error, never its arguments; no job of Keyhold's carries a
	// secret in the clear in its arguments anyway (see internal/mail).
	Logger *slog.Logger
	// RetryPolicy decides when a failed job is tried again; nil: Backoff.
	RetryPolicy river.ClientRetryPolicy
	// PeriodicJobs are inserted on a schedule by the elected leader among
	// the instances (only with Workers).
	PeriodicJobs []*river.PeriodicJob
	// PollInterval is how often the queue looks for jobs that are due
	// (retries, and new jobs on SQLite, which has no LISTEN); default 1s.
	PollInterval time.Duration
	// RescueAfter is how long a job may be running before it is taken
	// for the job of an instance that died (kill -9, a lost machine) and
	// is retried; default RescueAfter. Under a minute (tests) it also
	// shortens the default job timeout to itself.
	RescueAfter time.Duration
}

// RescueAfter is how long a job may be running before the elected leader
// retries it: every job's context ends after JobTimeout (a minute) or
// its worker's own shorter Timeout, so one still running five minutes
// later belongs to an instance that is gone. River's own default, an
// hour, would hold a webhook that was in flight at a crash for an hour.
const RescueAfter = 5 * time.Minute

// Queue inserts and works jobs.
type Queue struct {
	client   *river.Client[*sql.Tx]
	listener *pgxpool.Pool
	working  bool
}

// MaxAttempts is how often a job is tried before River gives up on it (it
// then stays in the table as discarded, for the operator to see): with
// Backoff, about 18 hours of retries.
const MaxAttempts = 25

// New builds a Queue on c.DB. It does not start working jobs (Start).
func New(ctx context.Context, c Config) (*Queue, error) {
	if c.DB == nil || c.Logger == nil {
		return nil, errors.New("jobs: DB and Logger are required")
	}
	q := &Queue{working: c.Workers != nil}
	var driver riverdriver.Driver[*sql.Tx]
	if c.PostgresURL != "" {
		// The database/sql driver works on gorm's pool, so InsertTx takes
		// the *sql.Tx of a gorm transaction; only listening needs pgx.
		pc, err := pgxpool.ParseConfig(c.PostgresURL)
		if err != nil {
			return nil, errors.New("jobs: the PostgreSQL URL does not parse") // the URL may hold a password
		}
		pc.MaxConns, pc.MinConns = 1, 0
		if q.listener, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
			return nil, fmt.Errorf("jobs: listener pool: %w", err)
		}
		driver = riverdatabasesql.NewWithPgxListener(c.DB, q.listener)
	} else {
		driver = riversqlite.New(c.DB)
	}
	rc := &river.Config{
		Logger:            slog.New(atLeast{c.Logger.Handler(), slog.LevelWarn}),
		MaxAttempts:       MaxAttempts,
		RetryPolicy:       c.RetryPolicy,
		FetchPollInterval: c.PollInterval,
		// Completed jobs are kept a day, for the operator to look at.
		CompletedJobRetentionPeriod: 24 * time.Hour,
		JobTimeout:                  time.Minute,
		RescueStuckJobsAfter:        c.RescueAfter,
	}
	if rc.RescueStuckJobsAfter <= 0 {
		rc.RescueStuckJobsAfter = RescueAfter
	}
	// River wants JobTimeout within RescueAfter; only tests set a
	// RescueAfter under a minute.
	rc.JobTimeout = min(rc.JobTimeout, rc.RescueStuckJobsAfter)
	if rc.RetryPolicy == nil {
		rc.RetryPolicy = Backoff{}
	}
	if c.Workers != nil {
		rc.Workers = c.Workers
		rc.PeriodicJobs = c.PeriodicJobs
		n := c.Concurrency
		if n <= 0 {
			n = 4
		}
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: n}}
		for name, workers := range c.Queues {
			rc.Queues[name] = river.QueueConfig{MaxWorkers: max(workers, 1)}
		}
	}
	client, err := river.NewClient(driver, rc)
	if err != nil {
		q.close()
		return nil, fmt.Errorf("jobs: %w", err)
	}
	q.client = client
	return q, nil
}

// Start starts working jobs until Stop; a queue without workers does
// nothing.
func (q *Queue) Start(ctx context.Context) error {
	if !q.working {
		return nil
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	return nil
}

// Stop stops taking new jobs and waits for the running ones to finish,
// until ctx ends; then it cancels them (they are retried later, by this or
// another instance) and releases the queue's connections.
func (q *Queue) Stop(ctx context.Context) error {
	defer q.close()
	if !q.working {
		return nil
	}
	err := q.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = q.client.StopAndCancel(cctx)
	}
	if err != nil {
		return fmt.Errorf("jobs: stop: %w", err)
	}
	return nil
}

func (q *Queue) close() {
	if q.listener != nil {
		q.listener.Close()
	}
}

// InsertTx inserts a job in tx: it is worked once tx commits, and never if
// tx rolls back. It returns the job's id.
func (q *Queue) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs) (int64, error) {
	res, err := q.client.InsertTx(ctx, tx, args, nil)
	if err != nil {
		return 0, fmt.Errorf("jobs: insert %s: %w", args.Kind(), err)
	}
	return res.Job.ID, nil
}

// Insert inserts a job in a transaction of its own.
func (q *Queue) Insert(ctx context.Context, args river.JobArgs) (int64, error) {
	res, err := q.client.Insert(ctx, args, nil)
	if err != nil {
		return 0, fmt.Errorf("jobs: insert %s: %w", args.Kind(), err)
	}
	return res.Job.ID, nil
}

// Job returns a job's row, for tests and the operator.
func (q *Queue) Job(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	j, err := q.client.JobGet(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("jobs: job %d: %w", id, err)
	}
	return j, nil
}

// RetryNow makes a job that waits for a retry due at once.
func (q *Queue) RetryNow(ctx context.Context, id int64) error {
	if _, err := q.client.JobRetry(ctx, id); err != nil {
		return fmt.Errorf("jobs: retry %d: %w", id, err)
	}
	return nil
}

// Backoff is the retry policy: 10 s after the first failure, doubling up
// to an hour, so an SMTP server that is down for a while is asked a few
// times an hour rather than hammered, and 25 attempts last about 18
// hours.
type Backoff struct{}

// NextRetry implements river.ClientRetryPolicy.
func (Backoff) NextRetry(job *rivertype.JobRow) time.Time {
	d := 10 * time.Second << min(max(job.Attempt-1, 0), 9)
	return time.Now().Add(min(d, time.Hour))
}

// atLeast passes on records at or above a level: River's info and debug
// lines (leader elections, producer starts) are noise in Keyhold's log.
type atLeast struct {
	slog.Handler
	level slog.Level
}

func (h atLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h atLeast) WithAttrs(as []slog.Attr) slog.Handler {
	return atLeast{h.Handler.WithAttrs(as), h.level}
}

func (h atLeast) WithGroup(name string) slog.Handler {
	return atLeast{h.Handler.WithGroup(name), h.level}
}
