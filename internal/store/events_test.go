package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/store"
)

// TestApplyEventTellsPrior checks what the store owes billing's take-over
// rule: each run of ApplyEvent sees the outcome the event's record had
// before it ("" the first time), whatever fn returns is recorded, and an
// error from fn leaves the record as it was (or absent).
func TestApplyEventTellsPrior(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ev := billing.EventRecord{ID: "evt_prior", Type: "invoice.paid", Created: 1, APIVersion: billing.APIVersion, ReceivedAt: time.Now()}
		boom := errors.New("boom")
		steps := []struct {
			outcome   string // what fn returns
			err       error  // what fn fails with
			wantPrior string // what fn is told
			wantAfter string // the record's outcome afterwards; "" none
		}{
			{"", boom, "", ""}, // a failed first attempt keeps nothing
			{billing.OutcomeFailed, nil, "", billing.OutcomeFailed},
			{"", boom, billing.OutcomeFailed, billing.OutcomeFailed},
			{billing.OutcomeApplied, nil, billing.OutcomeFailed, billing.OutcomeApplied},
			{billing.OutcomeIgnored, nil, billing.OutcomeApplied, billing.OutcomeIgnored},
		}
		for i, st := range steps {
			var told string
			err := db.ApplyEvent(ctx, ev, func(_ billing.Tx, prior string) (string, string, error) {
				told = prior
				return st.outcome, "step", st.err
			})
			if !errors.Is(err, st.err) {
				t.Fatalf("step %d: ApplyEvent returned %v, want %v", i, err, st.err)
			}
			if told != st.wantPrior {
				t.Errorf("step %d: fn was told %q, want %q", i, told, st.wantPrior)
			}
			rec, err := db.StripeEvent(ctx, ev.ID)
			switch {
			case st.wantAfter == "" && !errors.Is(err, billing.ErrNotFound):
				t.Errorf("step %d: record %+v (%v), want none", i, rec, err)
			case st.wantAfter != "" && (err != nil || rec.Outcome != st.wantAfter):
				t.Errorf("step %d: record %+v (%v), want outcome %q", i, rec, err, st.wantAfter)
			}
		}
	})
}
