package verify

// Thresholds of a quota that are reported, in percent.
const (
	Threshold80  = 80
	Threshold100 = 100
)

// ThresholdSink hears of quota thresholds crossed (notices: a banner, a
// mail, the quota.threshold event). QuotaCrossed is called on the hot
// path of a verification, so it must not block or do I/O: hand the
// crossing to a queue and return.
//
// The crossing is found where the count is taken, atomically (an atomic
// add in this process, INCRBY in Redis's script), from the count before
// and after one take: exactly one take moves a count from below a
// threshold to at or above it, on one instance or on many sharing Redis,
// so each threshold is reported once per window in normal operation. 100
// is reported by the take that reaches the limit or by the first refusal
// by the quota past 80 %, whichever comes first on each instance (a call's cost can
// jump over the exact limit), so with several instances each may report
// it once. A count
// that jumps in other ways (usage counted alone while Redis was away, put
// back on its return; a window seeded from the database) reports nothing
// for that jump. The sink dedupes what it hears (notices: a row inserted
// once per key, window and threshold).
//
// A pooled quota (plans.ScopeAccount) crosses its thresholds as one: the
// crossing names the account and an empty keyID, whichever key's call
// crossed it, and used and limit are the pool's.
type ThresholdSink interface {
	QuotaCrossed(keyID, accountID string, percent int, used, limit int64, w Window)
}

// at80 is the least count that is at least 80 % of limit, ⌈4·limit/5⌉,
// without the overflow of multiplying a large limit.
func at80(limit int64) int64 {
	if limit <= 0 {
		return 0
	}
	return 4*(limit/5) + (4*(limit%5)+4)/5
}

// thresholds reports what the take that led to d crossed: used went from
// d.QuotaUsed-cost to d.QuotaUsed. A refusal by the quota took nothing,
// but once past 80 % says the quota is used up for such a call: 100 is
// reported once per window by this process, by the take that reached the
// limit or by the first such refusal, whichever comes first.
func (v *Verifier) thresholds(e *Entry, d *Decision, cost int64) {
	limit := d.QuotaLimit
	if limit <= 0 {
		return
	}
	after := d.QuotaUsed
	before := after - cost
	st, keyID := e.quotaState(), e.KeyID
	if e.pool != nil {
		keyID = "" // the pool's crossing, whichever key crossed it
	}
	if !d.QuotaExceeded && before < e.quota80() && after >= e.quota80() {
		v.cfg.Thresholds.QuotaCrossed(keyID, e.AccountID(), Threshold80, after, limit, st.window())
	}
	// A refusal reports 100 only past 80 %: one call too big for a quota
	// barely begun (cost 500 of 100 at 1 used) says nothing of its use,
	// and would spend the window's one 100 % notice.
	if (d.QuotaExceeded && after >= e.quota80()) || (!d.QuotaExceeded && before < limit && after >= limit) {
		ws := st.windowStart.Load()
		if st.exceeded.Load() != ws && st.exceeded.Swap(ws) != ws {
			v.cfg.Thresholds.QuotaCrossed(keyID, e.AccountID(), Threshold100, after, limit, st.window())
		}
	}
}
