package store

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/keyhold/keyhold/internal/auth"
)

// errBlocked rolls back a TakeAttempts transaction that hit a limit.
var errBlocked = errors.New("store: throttled")

// takeAttempt counts one attempt for a digest: a new window when there is
// no row or its window is over, one more attempt otherwise. SET reads the
// row as it was, so every CASE sees the old window_end.
const takeAttempt = `INSERT INTO throttle_counters (digest, attempts, window_start, window_end) VALUES (?, 1, ?, ?)
ON CONFLICT (digest) DO UPDATE SET
  attempts     = CASE WHEN throttle_counters.window_end <= ? THEN 1 ELSE throttle_counters.attempts + 1 END,
  window_start = CASE WHEN throttle_counters.window_end <= ? THEN excluded.window_start ELSE throttle_counters.window_start END,
  window_end   = CASE WHEN throttle_counters.window_end <= ? THEN excluded.window_end ELSE throttle_counters.window_end END
RETURNING attempts, window_start, window_end`

// TakeAttempts implements auth.Attempts in one transaction: each counter is
// upserted (rows locked in digest order, so concurrent callers cannot
// deadlock), and when one goes past its limit the transaction rolls back,
// so a refused attempt counts nowhere.
func (db *DB) TakeAttempts(ctx context.Context, now time.Time, limits []auth.Limit) ([]time.Time, time.Time, error) {
	order := make([]int, len(limits))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return slices.Compare(limits[a].Key[:], limits[b].Key[:]) })
	ms := now.UnixMilli()
	starts := make([]time.Time, len(limits))
	var until int64
	err := db.ctx(ctx).Transaction(func(tx *gorm.DB) error {
		for _, i := range order {
			l := limits[i]
			var row struct {
				Attempts    int
				WindowStart int64
				WindowEnd   int64
			}
			end := ms + l.Window.Milliseconds()
			if err := tx.Raw(takeAttempt, digest(l.Key), ms, end, ms, ms, ms).Scan(&row).Error; err != nil {
				return fmt.Errorf("store: take attempts: %w", err)
			}
			if row.Attempts > l.Max {
				until = max(until, row.WindowEnd)
			}
			starts[i] = time.UnixMilli(row.WindowStart).UTC()
		}
		if until != 0 {
			return errBlocked
		}
		return nil
	})
	if errors.Is(err, errBlocked) {
		return nil, time.UnixMilli(until).UTC(), nil
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	return starts, time.Time{}, nil
}

// RefundAttempt implements auth.Attempts.
func (db *DB) RefundAttempt(ctx context.Context, key auth.ThrottleKey, start time.Time) error {
	err := db.ctx(ctx).Exec(`UPDATE throttle_counters SET attempts = attempts - 1 WHERE digest = ? AND window_start = ? AND attempts > 0`,
		digest(key), start.UnixMilli()).Error
	if err != nil {
		return fmt.Errorf("store: refund attempt: %w", err)
	}
	return nil
}

// ForgetAttempts implements auth.Attempts.
func (db *DB) ForgetAttempts(ctx context.Context, key auth.ThrottleKey) error {
	if err := db.ctx(ctx).Exec(`DELETE FROM throttle_counters WHERE digest = ?`, digest(key)).Error; err != nil {
		return fmt.Errorf("store: forget attempts: %w", err)
	}
	return nil
}

// DeleteExpiredAttempts removes the counters whose window ended by now.
func (db *DB) DeleteExpiredAttempts(ctx context.Context, now time.Time) (int64, error) {
	res := db.ctx(ctx).Exec(`DELETE FROM throttle_counters WHERE window_end <= ?`, now.UnixMilli())
	if res.Error != nil {
		return 0, fmt.Errorf("store: delete expired attempts: %w", res.Error)
	}
	return res.RowsAffected, nil
}

func digest(k auth.ThrottleKey) string { return hex.EncodeToString(k[:]) }

var _ auth.Attempts = (*DB)(nil)
