package keys_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keys"
)

// TestUpdateExpiry: giving a key an expiry, keeping the same one, and
// removing it. Each real change is one event and one audit line saying
// what the expiry became; re-saving the same expiry (a form submitted
// unchanged) is no change at all, so it neither drops the key from every
// verifier's cache nor fills the audit log.
func TestUpdateExpiry(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	acct := f.MustAccount(t, "ada@example.com")
	actor := audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}
	k, _ := f.MustKey(t, acct, "ci")
	var events int
	f.svc.Subscribe(func(keys.Event) { events++ })

	exp := time.Date(f.now.Year()+1, 3, 4, 0, 0, 0, 0, time.UTC)
	same := exp.In(time.FixedZone("CET", 3600)) // the same instant, another zone and pointer
	steps := []struct {
		name       string
		expiresAt  *time.Time
		wantEvents int
		wantDetail string // newest audit detail after the step
	}{
		{"set", &exp, 1, "expiry → " + exp.Format("2006-01-02")},
		{"same instant again", &same, 1, "expiry → " + exp.Format("2006-01-02")},
		{"cleared", nil, 2, "expiry → never"},
		{"cleared again", nil, 2, "expiry → never"},
	}
	for _, s := range steps {
		got, err := f.svc.Update(ctx, actor, acct, k.ID, keys.Settings{Name: "ci", ExpiresAt: s.expiresAt})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if (got.ExpiresAt == nil) != (s.expiresAt == nil) || (got.ExpiresAt != nil && !got.ExpiresAt.Equal(exp)) {
			t.Errorf("%s: expiry %v", s.name, got.ExpiresAt)
		}
		if events != s.wantEvents {
			t.Errorf("%s: %d events, want %d", s.name, events, s.wantEvents)
		}
		entries, err := f.keyAudit(ctx, acct, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != s.wantEvents+1 || entries[0].Detail != s.wantDetail {
			t.Errorf("%s: %d audit entries, newest %q; want %d, %q", s.name, len(entries), entries[0].Detail, s.wantEvents+1, s.wantDetail)
		}
	}
}
