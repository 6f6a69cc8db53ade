package verify_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/verify"
)

// suspend sets the fixture account's suspension in the database and drops
// its cached keys, as the account-change announcement does.
func (f *fixture) suspend(suspended bool) {
	f.t.Helper()
	e := audit.Entry{ID: keyhold.NewID(), AccountID: f.account, Action: audit.Suspended, CreatedAt: f.now}
	if err := f.db.DB.SetSuspended(context.Background(), f.account, suspended, e); err != nil {
		f.t.Fatal(err)
	}
	f.v.InvalidateAccount(f.account)
}

// A suspended account's keys answer DISABLED (403), after the key's own
// end (revoked, expired) and before anything the call asks (scopes,
// limits), and take nothing from the quota.
func TestDisabledCheckOrder(t *testing.T) {
	f := MustFixture(t)
	ctx := context.Background()
	live, key := f.MustKey(keys.Settings{Scopes: []string{"read"}})
	exp := f.now.Add(time.Hour)
	_, expiring := f.MustKey(keys.Settings{ExpiresAt: &exp})
	gone, revoked := f.MustKey(keys.Settings{})
	if err := f.keys.Revoke(ctx, f.owner(), f.account, gone.ID); err != nil {
		t.Fatal(err)
	}
	if res := f.Verify(key, 5, "read"); res.Code != verify.Valid {
		t.Fatalf("before: %s", res.Code)
	}
	used, _, _ := f.v.QuotaUsed(live.ID, f.now)

	f.suspend(true)
	f.Advance(2 * time.Hour) // the expiring key is past its end
	tests := []struct {
		name   string
		key    string
		scopes []string
		want   verify.Code
	}{
		{"suspended", key, nil, verify.Disabled},
		{"suspended, a scope it has", key, []string{"read"}, verify.Disabled},
		{"suspended, a scope it lacks", key, []string{"admin"}, verify.Disabled},
		{"suspended and revoked", revoked, nil, verify.Revoked},
		{"suspended and expired", expiring, nil, verify.Expired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.Verify(tt.key, 5, tt.scopes...)
			if res.Code != tt.want {
				t.Errorf("got %s, want %s", res.Code, tt.want)
			}
		})
	}
	res := f.Verify(key, 5)
	if res.Code.HTTPStatus() != 403 || res.Code.String() != "DISABLED" || res.Code.Message() != "The key's account is suspended." {
		t.Errorf("DISABLED answers %d %s %q", res.Code.HTTPStatus(), res.Code, res.Code.Message())
	}
	if res.Entry == nil || res.Decision.QuotaLimit == 0 {
		t.Error("a DISABLED answer lacks the key's limits (RateLimit-* headers need them)")
	}
	if now, _, _ := f.v.QuotaUsed(live.ID, f.now); now != used {
		t.Errorf("quota used went from %d to %d while suspended", used, now)
	}

	f.suspend(false)
	if res := f.Verify(key, 1, "read"); res.Code != verify.Valid {
		t.Errorf("after unsuspending: %s", res.Code)
	}
	if res := f.Verify(revoked, 1); res.Code != verify.Revoked {
		t.Errorf("a revoked key after unsuspending: %s", res.Code)
	}
}
