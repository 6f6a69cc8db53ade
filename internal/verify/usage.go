package verify

import (
	"context"
	"fmt"
	"time"

	"github.com/keyhold/keyhold/internal/keyhold"
)

// Flush writes the usage counted since the last flush in one atomic write.
// A write that failed is kept (up to MaxPending rows, oldest dropped first)
// and retried first, alone and unchanged, with its batch id: when its
// commit did reach the database and only the answer was lost, the store
// finds the id and does not add it again. Usage counted meanwhile waits in
// the keys' counters. Usage is never written twice. Keys whose calls
// counted while Redis was unreachable and are not yet back in Redis wait
// for that (see keyState.hold); the flush when Run stops writes them too.
func (v *Verifier) Flush(ctx context.Context) error { return v.flush(ctx, false) }

func (v *Verifier) flush(ctx context.Context, all bool) error {
	v.flushMu.Lock()
	defer v.flushMu.Unlock()

	if len(v.pending) > 0 {
		if err := v.cfg.Loader.AddUsage(ctx, v.pending); err != nil {
			return fmt.Errorf("verify: retry %d usage rows: %w", len(v.pending), err)
		}
		v.markFlushed(v.pending)
		v.pending = nil
	}

	v.statesMu.Lock()
	states := make([]*keyState, 0, len(v.states))
	for _, st := range v.states {
		states = append(states, st)
	}
	v.statesMu.Unlock()

	var batch []Usage
	for _, st := range states {
		if !all && st.hold.Load() {
			continue // still dirty: written once Redis has the counts
		}
		if st.dirty.Swap(false) {
			batch = st.drain(batch)
		}
	}
	if len(batch) == 0 {
		return nil
	}
	id := keyhold.NewID()
	for i := range batch {
		batch[i].Batch = id
	}
	if err := v.cfg.Loader.AddUsage(ctx, batch); err != nil {
		if over := len(batch) - v.cfg.MaxPending; over > 0 {
			v.dropped.Add(int64(over))
			batch = batch[over:]
		}
		v.pending = batch
		return fmt.Errorf("verify: flush %d usage rows: %w", len(batch), err)
	}
	v.markFlushed(batch)
	return nil
}

// markFlushed records rows the database now holds. What is in the database
// is what a window re-seeded from it holds: only the rest is this
// instance's to add back after a Redis outage.
func (v *Verifier) markFlushed(batch []Usage) {
	v.statesMu.Lock()
	defer v.statesMu.Unlock()
	for i := range batch {
		u := &batch[i]
		if st := v.states[u.KeyID]; st != nil && u.Cost != 0 && u.WindowStart.UnixNano() == st.windowStart.Load() {
			st.flushed.Add(u.Cost)
		}
	}
}

// Run flushes every interval until ctx ends, then flushes once more with
// a fresh context of up to 10 seconds, so a graceful stop loses nothing.
func (v *Verifier) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := v.flush(fctx, true)
			cancel()
			if err != nil {
				v.log.Error("final usage flush failed: usage counted since the last flush is lost", "err", err)
			}
			return
		case <-t.C:
			err := v.Flush(ctx)
			switch {
			case err != nil && !failing:
				v.log.Error("usage flush failed; keeping usage in memory until the database is back", "err", err)
				failing = true
			case err == nil && failing:
				v.log.Info("usage flush recovered")
				failing = false
			}
		}
	}
}

// PendingRows returns how many usage rows wait for a failed write to be
// retried.
func (v *Verifier) PendingRows() int {
	v.flushMu.Lock()
	defer v.flushMu.Unlock()
	return len(v.pending)
}

// DroppedRows returns how many usage rows were dropped past MaxPending.
func (v *Verifier) DroppedRows() int64 { return v.dropped.Load() }
