package notices

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// ExpiryCheckEvery is how often the expiry job looks for keys that expire
// soon.
const ExpiryCheckEvery = time.Hour

// CheckExpiries records the expiry notices due at now, each once: the
// 1-day notice for keys that expire within a day, the 7-day notice for
// the others that expire within a week (a key first seen a few hours
// before it expires gets the 1-day notice only). It returns how many
// notices were new.
func (s *Service) CheckExpiries(ctx context.Context) (int, error) {
	now := s.now()
	ks, err := s.store.ExpiringKeys(ctx, now, now.Add(ExpiryWeek*24*time.Hour))
	if err != nil {
		return 0, fmt.Errorf("notices: expiring keys: %w", err)
	}
	n := 0
	for _, k := range ks {
		k.Days = ExpiryWeek
		if !k.ExpiresAt.After(now.Add(ExpiryDay * 24 * time.Hour)) {
			k.Days = ExpiryDay
		}
		created, err := s.store.RecordExpiry(ctx, k, s.emailOn, now)
		if err != nil {
			return n, fmt.Errorf("notices: record expiry of key %s: %w", k.KeyID, err)
		}
		if created {
			n++
			s.log.Info("expiry notice", "key_id", k.KeyID, "account_id", k.AccountID, "days", k.Days)
		}
	}
	return n, nil
}

// ExpiryArgs is the expiry job's (empty) arguments.
type ExpiryArgs struct{}

// Kind implements river.JobArgs.
func (ExpiryArgs) Kind() string { return "notices_expiry" }

// ExpiryWorker runs CheckExpiries.
type ExpiryWorker struct {
	river.WorkerDefaults[ExpiryArgs]
	Service *Service
}

// Work implements river.Worker.
func (w *ExpiryWorker) Work(ctx context.Context, _ *river.Job[ExpiryArgs]) error {
	_, err := w.Service.CheckExpiries(ctx)
	return err
}

// Register adds the expiry worker to workers and returns its hourly
// periodic job, for jobs.Config.PeriodicJobs. River runs it on its elected
// leader; should two instances run it at once, each notice's row is
// inserted once and only its inserter mails.
func Register(workers *river.Workers, s *Service) *river.PeriodicJob {
	river.AddWorker(workers, &ExpiryWorker{Service: s})
	return river.NewPeriodicJob(river.PeriodicInterval(ExpiryCheckEvery),
		func() (river.JobArgs, *river.InsertOpts) { return ExpiryArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})
}
