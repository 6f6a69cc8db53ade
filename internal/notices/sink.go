package notices

import (
	"context"
	"time"

	"github.com/keyhold/keyhold/internal/quota"
)

// SinkSize is how many crossings wait for the database before more are
// dropped (counted): crossings are rare, two per key per window.
const SinkSize = 4096

// Sink hears the verifier's threshold crossings (verify.ThresholdSink)
// and records them in the background: QuotaCrossed never blocks a
// verification, and a full queue drops the crossing rather than wait.
type Sink struct {
	svc *Service
	ch  chan Crossing
}

// NewSink returns a Sink recording through svc; Run drains it.
func NewSink(svc *Service) *Sink {
	return &Sink{svc: svc, ch: make(chan Crossing, SinkSize)}
}

// QuotaCrossed implements verify.ThresholdSink.
func (s *Sink) QuotaCrossed(keyID, accountID string, percent int, used, limit int64, w quota.Window) {
	select {
	case s.ch <- Crossing{KeyID: keyID, AccountID: accountID, Percent: percent, Used: used, Limit: limit, Window: w}:
	default:
		s.svc.dropped.Add(1)
		// Logged at most once a minute: a flood of drops must not become
		// a flood of lines on the hot path.
		now, last := time.Now().Unix(), s.svc.lastDropLog.Load()
		if now-last >= 60 && s.svc.lastDropLog.CompareAndSwap(last, now) {
			s.svc.log.Warn("quota notices: queue full, threshold crossings dropped", "dropped_total", s.svc.dropped.Load())
		}
	}
}

// Dropped returns how many crossings were dropped on a full queue.
func (s *Sink) Dropped() int64 { return s.svc.dropped.Load() }

// Failed returns how many crossings could not be recorded.
func (s *Sink) Failed() int64 { return s.svc.failed.Load() }

// Run records crossings until ctx ends, then records what is queued
// still, for up to five seconds.
func (s *Sink) Run(ctx context.Context) {
	for {
		select {
		case c := <-s.ch:
			// Not cut short by a stop that comes meanwhile: each
			// attempt has its own bound.
			s.record(context.WithoutCancel(ctx), c)
		case <-ctx.Done():
			s.drain(ctx)
			return
		}
	}
}

// drain records what is queued still, for up to five seconds.
func (s *Sink) drain(ctx context.Context) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for {
		select {
		case c := <-s.ch:
			s.record(dctx, c)
		default:
			return
		}
	}
}

// record records one crossing, trying three times a few seconds apart
// while the database is away (until ctx ends); the row makes a retry
// harmless.
func (s *Sink) record(ctx context.Context, c Crossing) {
	var err error
	for i := range 3 {
		if i > 0 && !wait(ctx, time.Duration(i)*2*time.Second) {
			break
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var created bool
		created, err = s.svc.RecordThreshold(rctx, c)
		cancel()
		if err == nil {
			if created {
				s.svc.log.Info("quota notice", "key_id", c.KeyID, "account_id", c.AccountID, "percent", c.Percent)
			}
			return
		}
	}
	s.svc.failed.Add(1)
	s.svc.log.Error("quota notice not recorded", "key_id", c.KeyID, "percent", c.Percent, "err", err)
}

// wait waits d, or less when ctx ends first (false).
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
