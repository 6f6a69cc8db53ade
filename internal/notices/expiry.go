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

// Kept is how long notice rows outlive what they are about. A quota
// notice's row stops its threshold firing twice in a window, an expiry
// notice's its notice twice for an expiry, and a dismissal hides a banner
// while it could show: none of them matters once the window has ended or
// the key has expired, so they go a month after (a margin for clocks and
// for the history an operator might look up). A dismissal names its
// window in its id but not when that ends, so it is kept for the longest
// window there is, a yearly billing period, and a month more.
const (
	KeptAfterWindow    = 31 * 24 * time.Hour
	KeptAfterExpiry    = 31 * 24 * time.Hour
	KeptAfterDismissal = (366 + 31) * 24 * time.Hour
)

// Prune deletes the notice rows that can no longer matter (see Kept…) and
// returns how many went. The expiry job runs it each hour.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	now := s.now()
	n, err := s.store.PruneNotices(ctx, now.Add(-KeptAfterWindow), now.Add(-KeptAfterExpiry), now.Add(-KeptAfterDismissal))
	if err != nil {
		return n, fmt.Errorf("notices: prune: %w", err)
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

// Work implements river.Worker: the expiry notices due, then the rows
// past keeping. A failed prune fails the job (River retries it) after the
// notices are recorded.
func (w *ExpiryWorker) Work(ctx context.Context, _ *river.Job[ExpiryArgs]) error {
	if _, err := w.Service.CheckExpiries(ctx); err != nil {
		return err
	}
	_, err := w.Service.Prune(ctx)
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
