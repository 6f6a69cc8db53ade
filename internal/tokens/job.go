package tokens

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// RotateArgs is the periodic job that rotates the signing key when it is
// RotateEvery old and deletes keys past their retirement window.
type RotateArgs struct{}

// Kind implements river.JobArgs.
func (RotateArgs) Kind() string { return "tokens.rotate" }

// RotateWorker works RotateArgs with a Service.
type RotateWorker struct {
	river.WorkerDefaults[RotateArgs]
	Service *Service
}

// Work implements river.Worker.
func (w *RotateWorker) Work(ctx context.Context, _ *river.Job[RotateArgs]) error {
	_, err := w.Service.RotateIfDue(ctx)
	return err
}

// RotateCheckEvery is how often the periodic job looks at the key's age:
// far more often than RotateEvery, so a key is rotated within an hour of
// falling due and a retired key is deleted within an hour of leaving the
// JWKS. (Rotation is decided by age, so running it often changes nothing.)
const RotateCheckEvery = time.Hour

// Register adds the rotation worker to workers and returns its periodic
// job, for jobs.Config.PeriodicJobs. River runs periodic jobs on its
// elected leader only; should two instances run it at once, generations
// are unique and one rotation wins.
func Register(workers *river.Workers, s *Service) *river.PeriodicJob {
	river.AddWorker(workers, &RotateWorker{Service: s})
	return river.NewPeriodicJob(river.PeriodicInterval(RotateCheckEvery),
		func() (river.JobArgs, *river.InsertOpts) { return RotateArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})
}
