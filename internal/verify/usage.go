package verify

import (
	"context"
	"fmt"
	"time"

	"github.com/keyhold/keyhold/internal/keyhold"
)

// Flush writes the usage counted since the last flush in one atomic write,
// a batch with its own id. Batches whose write failed are kept, oldest
// first, and retried before anything else, each unchanged and with its id:
// when a commit did reach the database and only the answer was lost, the
// store finds the id and does not add it again, so usage is never written
// twice. While the database stays down each flush still drains the keys'
// counters into a new batch, so what waits in memory is bounded by
// MaxPending rows in all (the oldest rows are dropped first, and counted).
// Keys whose calls counted while Redis was unreachable and are not yet
// back in Redis wait for that (see shared.hold); the flush when Run
// stops writes them too.
func (v *Verifier) Flush(ctx context.Context) error { return v.flush(ctx, false) }

func (v *Verifier) flush(ctx context.Context, all bool) error {
	v.flushMu.Lock()
	defer v.flushMu.Unlock()

	var retryErr error
	for len(v.pending) > 0 {
		b := v.pending[0]
		if err := v.cfg.Loader.AddUsage(ctx, b); err != nil {
			retryErr = fmt.Errorf("verify: retry %d usage rows: %w", v.pendingRowsLocked(), err)
			break
		}
		v.markFlushed(b)
		v.pending = v.pending[1:]
	}

	// Only the states counted since the last flush: listing every cached
	// key's each second was most of what an idle server with 100 000 keys
	// allocated. The two lists take turns, so a flush allocates none.
	v.dirtyMu.Lock()
	states := v.dirty
	v.dirty, v.spare = v.spare, nil
	v.dirtyMu.Unlock()

	var batch []Usage
	var held []*keyState
	for _, st := range states {
		if !all && (st.held() || st.poolHeld()) {
			held = append(held, st) // still dirty: written once Redis has the counts
			continue
		}
		if st.dirty.Swap(false) {
			batch = st.drain(batch)
		}
	}
	clear(states)
	v.dirtyMu.Lock()
	v.dirty = append(v.dirty, held...)
	v.spare = states[:0]
	v.dirtyMu.Unlock()
	if len(batch) == 0 {
		return retryErr
	}
	id := keyhold.NewID()
	for i := range batch {
		batch[i].Batch = id
	}
	if retryErr != nil {
		// Older batches come first: keep this one behind them.
		v.queueLocked(batch)
		return retryErr
	}
	if err := v.cfg.Loader.AddUsage(ctx, batch); err != nil {
		v.queueLocked(batch)
		return fmt.Errorf("verify: flush %d usage rows: %w", len(batch), err)
	}
	v.markFlushed(batch)
	return nil
}

// counted counts code for st (keyState.count), and lists st for the next
// flush if that marked it.
func (v *Verifier) counted(st *keyState, code Code, exchange bool, cost int64, now time.Time) {
	if st.count(code, exchange, cost, now) {
		v.dirtyMu.Lock()
		v.dirty = append(v.dirty, st)
		v.dirtyMu.Unlock()
	}
}

// queueLocked keeps a batch whose write failed, dropping the oldest rows
// past MaxPending. A batch cut short keeps its id: if its first write did
// land, the store still skips it whole. v.flushMu must be held.
func (v *Verifier) queueLocked(batch []Usage) {
	v.pending = append(v.pending, batch)
	over := v.pendingRowsLocked() - v.cfg.MaxPending
	for over > 0 && len(v.pending) > 0 {
		b := v.pending[0]
		n := min(over, len(b))
		v.dropped.Add(int64(n))
		over -= n
		if n == len(b) {
			v.pending = v.pending[1:]
		} else {
			v.pending[0] = b[n:]
		}
	}
}

func (v *Verifier) pendingRowsLocked() int {
	n := 0
	for _, b := range v.pending {
		n += len(b)
	}
	return n
}

// markFlushed records rows the database now holds. What is in the database
// is what a window re-seeded from it holds: only the rest is this
// instance's to add back after a Redis outage.
func (v *Verifier) markFlushed(batch []Usage) {
	v.statesMu.Lock()
	defer v.statesMu.Unlock()
	for i := range batch {
		u := &batch[i]
		st := v.states[u.KeyID]
		if st == nil || u.Cost == 0 {
			continue
		}
		if p := st.pool.Load(); p != nil {
			// The cost of a pooled key's calls was granted by its pool.
			st = &p.keyState
		}
		// (No shared state: no shared limits counted the window, and
		// nothing reads flushed.)
		if sh := st.sh.Load(); sh != nil && u.WindowStart.UnixNano() == st.windowStart.Load() {
			sh.flushed.Add(u.Cost)
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
	return v.pendingRowsLocked()
}

// DroppedRows returns how many usage rows were dropped past MaxPending.
func (v *Verifier) DroppedRows() int64 { return v.dropped.Load() }
