package keys_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
)

// TestParseFormReportsEveryFieldAtOnce: the form of issue 12 journey 6
// (an empty name, a bad scope and bad JSON) gets three messages from one
// submission, each under its own field.
func TestParseFormReportsEveryFieldAtOnce(t *testing.T) {
	f := MustService(t)
	_, err := f.svc.ParseForm(keys.Form{Name: "  ", Scopes: "read, no spaces!", Meta: `{"team":`, Expiry: "custom"})
	if keyhold.ErrorCode(err) != keyhold.EINVALID {
		t.Fatalf("err = %v, want EINVALID", err)
	}
	got := keyhold.Fields(err)
	want := map[string]string{
		"name":    "Give the key a name",
		"scopes":  `Scope "spaces!" is not valid`,
		"meta":    "Metadata must be a JSON object",
		"expires": "Pick the date the key expires",
	}
	if len(got) != len(want) {
		t.Errorf("fields = %v, want %d", got, len(want))
	}
	for field, w := range want {
		if !strings.Contains(got[field], w) {
			t.Errorf("%s: %q, want it to contain %q", field, got[field], w)
		}
	}
	if msg := keyhold.ErrorMessage(err); !strings.HasPrefix(msg, "Give the key a name") || !strings.Contains(msg, "Pick the date") {
		t.Errorf("message = %q, want every field's message", msg)
	}
}

func TestParseFormOneFieldKeepsItsMessage(t *testing.T) {
	f := MustService(t)
	_, err := f.svc.ParseForm(keys.Form{Name: "ok", Meta: "[1]"})
	if got := keyhold.ErrorMessage(err); !strings.HasPrefix(got, "Metadata must be a JSON object") {
		t.Errorf("message = %q, want the field's own", got)
	}
	if fields := keyhold.Fields(err); len(fields) != 1 || fields["meta"] == "" {
		t.Errorf("fields = %v", fields)
	}
}

func TestParseFormExpiry(t *testing.T) {
	f := MustService(t)
	f.now = time.Date(2026, 3, 4, 15, 30, 0, 0, time.UTC)
	day := func(y int, m time.Month, d int) *time.Time { t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC); return &t }
	tests := []struct {
		name    string
		form    keys.Form
		want    *time.Time
		wantErr string // in the "expires" field's message
	}{
		{"7 days: through Mar 11", keys.Form{Expiry: "7"}, day(2026, 3, 12), ""},
		{"30 days ignores a date", keys.Form{Expiry: "30", Expires: "2027-01-01"}, day(2026, 4, 4), ""},
		{"90 days", keys.Form{Expiry: "90"}, day(2026, 6, 3), ""},
		{"never ignores a date", keys.Form{Expiry: "never", Expires: "2027-01-01"}, nil, ""},
		{"custom date works through its day", keys.Form{Expiry: "custom", Expires: "2026-12-31"}, day(2027, 1, 1), ""},
		{"no preset, a date (settings form)", keys.Form{Expires: "2026-12-31"}, day(2027, 1, 1), ""},
		{"no preset, no date", keys.Form{}, nil, ""},
		{"custom without a date", keys.Form{Expiry: "custom"}, nil, "Pick the date"},
		{"not a date", keys.Form{Expiry: "custom", Expires: "31/12/2026"}, nil, "like 2027-01-31"},
		{"a preset not offered", keys.Form{Expiry: "45"}, nil, "7 days, 30 days, 90 days"},
		{"not a number", keys.Form{Expiry: "soon"}, nil, "Choose when the key expires"},
		{"in the past", keys.Form{Expires: "2026-01-01"}, nil, "in the future"},
		{"past five years", keys.Form{Expires: "2035-01-01"}, nil, "within five years"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Name = "k"
			st, err := f.svc.ParseForm(tt.form)
			if tt.wantErr != "" {
				if got := keyhold.Fields(err)["expires"]; !strings.Contains(got, tt.wantErr) {
					t.Fatalf("expires error = %q (err %v), want %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (st.ExpiresAt == nil) != (tt.want == nil) || (st.ExpiresAt != nil && !st.ExpiresAt.Equal(*tt.want)) {
				t.Errorf("expires at %v, want %v", st.ExpiresAt, tt.want)
			}
		})
	}
}

// TestCreateReportsEveryField: the service's own check (for callers that
// skip ParseForm) reports all fields too.
func TestCreateReportsEveryField(t *testing.T) {
	f := MustService(t)
	acct := f.MustAccount(t, "ada@example.com")
	past := f.now.Add(-time.Hour)
	_, _, err := f.svc.Create(context.Background(), audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}, acct, keys.Settings{Name: "", Scopes: []string{"a b"}, ExpiresAt: &past})
	fields := keyhold.Fields(err)
	for _, name := range []string{"name", "scopes", "expires"} {
		if fields[name] == "" {
			t.Errorf("no %s error in %v", name, fields)
		}
	}
	if ks, _ := f.svc.List(context.Background(), acct); len(ks) != 0 {
		t.Errorf("%d keys created by an invalid form", len(ks))
	}
}

func TestScopesInUse(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	acct, other := f.MustAccount(t, "ada@example.com"), f.MustAccount(t, "bob@example.com")
	revoked, _, err := f.svc.Create(ctx, audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}, acct, keys.Settings{Name: "old", Scopes: []string{"legacy"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Revoke(ctx, audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}, acct, revoked.ID); err != nil {
		t.Fatal(err)
	}
	for _, sc := range [][]string{{"write", "read"}, {"read"}, {"admin"}} {
		if _, _, err := f.svc.Create(ctx, audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}, acct, keys.Settings{Name: "k", Scopes: sc}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := f.svc.Create(ctx, audit.Actor{UserID: other, AccountID: other, Role: ownerRole}, other, keys.Settings{Name: "k", Scopes: []string{"theirs"}}); err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.ScopesInUse(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	// Most used first, then by name; revoked keys' and other accounts' left out.
	if strings.Join(got, " ") != "read admin write" {
		t.Errorf("scopes in use = %q", got)
	}
}

func TestGraceLabel(t *testing.T) {
	tests := map[time.Duration]string{0: "none", time.Hour: "1 hour", 24 * time.Hour: "24 hours", 7 * 24 * time.Hour: "7 days", 2 * time.Hour: "2 hours", 90 * time.Minute: "1h30m0s"}
	for d, want := range tests {
		if got := keys.GraceLabel(d); got != want {
			t.Errorf("GraceLabel(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestRotateRefusalListsGracePeriods(t *testing.T) {
	f := MustService(t)
	acct := f.MustAccount(t, "ada@example.com")
	k, _ := f.MustKey(t, acct, "k")
	_, _, err := f.svc.Rotate(context.Background(), audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}, acct, k.ID, 2*time.Hour)
	if got := keyhold.ErrorMessage(err); !strings.HasSuffix(got, "none, 1 hour, 24 hours or 7 days.") {
		t.Errorf("message = %q", got)
	}
}

func TestOldSecretUntil(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	acct := f.MustAccount(t, "ada@example.com")
	actor := audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}
	k, _ := f.MustKey(t, acct, "k")
	if got, _ := f.svc.Get(ctx, acct, k.ID); got.OldSecretUntil != nil {
		t.Fatalf("new key: old secret until %v", got.OldSecretUntil)
	}
	rk, _, err := f.svc.Rotate(ctx, actor, acct, k.ID, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := f.now.Add(24 * time.Hour).UTC()
	if rk.OldSecretUntil == nil || !rk.OldSecretUntil.Equal(want) {
		t.Errorf("rotate: old secret until %v, want %v", rk.OldSecretUntil, want)
	}
	got, err := f.svc.Get(ctx, acct, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.OldSecretUntil == nil || got.OldSecretUntil.Sub(want).Abs() > time.Microsecond {
		t.Errorf("get: old secret until %v, want %v", got.OldSecretUntil, want)
	}
	// Once the grace is over, nothing is shown.
	f.now = f.now.Add(25 * time.Hour)
	if got, _ := f.svc.Get(ctx, acct, k.ID); got.OldSecretUntil != nil {
		t.Errorf("after the grace: old secret until %v", got.OldSecretUntil)
	}
	// A rotation without grace ends it at once.
	f.now = f.now.Add(-25 * time.Hour)
	if _, _, err := f.svc.Rotate(ctx, actor, acct, k.ID, 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.svc.Get(ctx, acct, k.ID); got.OldSecretUntil != nil {
		t.Errorf("after a rotation without grace: old secret until %v", got.OldSecretUntil)
	}
}

func TestExpireOldSecret(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	acct, other := f.MustAccount(t, "ada@example.com"), f.MustAccount(t, "bob@example.com")
	actor := audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole, IP: "203.0.113.9"}
	k, _ := f.MustKey(t, acct, "prod")

	if err := f.svc.ExpireOldSecret(ctx, actor, acct, k.ID); keyhold.ErrorCode(err) != keyhold.EINVALID {
		t.Errorf("no grace running: err = %v, want EINVALID", err)
	}
	if _, _, err := f.svc.Rotate(ctx, actor, acct, k.ID, 7*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	var events []keys.Event
	f.svc.Subscribe(func(e keys.Event) { events = append(events, e) })

	if err := f.svc.ExpireOldSecret(ctx, audit.Actor{UserID: other, AccountID: other, Role: ownerRole}, other, k.ID); keyhold.ErrorCode(err) != keyhold.ENOTFOUND {
		t.Errorf("another account: err = %v, want ENOTFOUND", err)
	}
	if got, _ := f.svc.Get(ctx, acct, k.ID); got.OldSecretUntil == nil {
		t.Fatal("another account's attempt ended the grace")
	}
	if len(events) != 0 {
		t.Errorf("refused attempt published %v", events)
	}

	if err := f.svc.ExpireOldSecret(ctx, actor, acct, k.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.svc.Get(ctx, acct, k.ID); got.OldSecretUntil != nil {
		t.Errorf("after expire: old secret until %v", got.OldSecretUntil)
	}
	if len(events) != 1 || events[0].Kind != keys.KeyRotated || events[0].KeyID != k.ID {
		t.Errorf("events = %+v, want one KeyRotated for the key (the rotation's invalidation)", events)
	}
	entries, err := f.keyAudit(ctx, acct, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e := entries[0]; e.Action != audit.KeyOldSecretExpired || e.ActorID != acct || e.IP != actor.IP || !strings.Contains(e.Detail, `"prod"`) {
		t.Errorf("newest audit entry = %+v", e)
	}
	// Twice: nothing left to expire.
	if err := f.svc.ExpireOldSecret(ctx, actor, acct, k.ID); keyhold.ErrorCode(err) != keyhold.EINVALID {
		t.Errorf("second expire: err = %v, want EINVALID", err)
	}
	// A revoked key has no secret to expire.
	if _, _, err := f.svc.Rotate(ctx, actor, acct, k.ID, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Revoke(ctx, actor, acct, k.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ExpireOldSecret(ctx, actor, acct, k.ID); keyhold.ErrorCode(err) != keyhold.EINVALID {
		t.Errorf("revoked key: err = %v, want EINVALID", err)
	}
}

func TestSetOverridesFromReportsEveryField(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	acct := f.MustAccount(t, "ada@example.com")
	k, _ := f.MustKey(t, acct, "k")
	ops := audit.Actor{AccountID: "ops"}
	tests := []struct {
		name string
		form keys.OverrideForm
		want []string // fields with an error
	}{
		{"three bad fields", keys.OverrideForm{Rate: "0", Burst: "lots", Quota: "-1"}, []string{"rate", "burst", "quota"}},
		{"a number out of range beside one that is no number", keys.OverrideForm{Rate: "x", Quota: "0"}, []string{"rate", "quota"}},
		{"burst below a sound rate", keys.OverrideForm{Rate: "50", Burst: "10"}, []string{"burst"}},
		{"burst below the plan's rate when the rate is bad", keys.OverrideForm{Rate: "y", Burst: "1"}, []string{"rate", "burst"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.svc.SetOverridesFrom(ctx, ops, k.ID, tt.form)
			fields := keyhold.Fields(err)
			if len(fields) != len(tt.want) {
				t.Errorf("fields %v, want %v", fields, tt.want)
			}
			for _, name := range tt.want {
				if fields[name] == "" {
					t.Errorf("no %s error in %v", name, fields)
				}
			}
			got, _ := f.lookup(ctx, k.ID)
			if got.RateOverride != nil || got.BurstOverride != nil || got.QuotaOverride != nil {
				t.Errorf("a refused form changed the key: %+v", got)
			}
		})
	}
	if err := f.svc.SetOverridesFrom(ctx, ops, k.ID, keys.OverrideForm{Rate: "5", Quota: "5 000"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.lookup(ctx, k.ID); got.RateOverride == nil || *got.RateOverride != 5 || got.QuotaOverride == nil || *got.QuotaOverride != 5000 {
		t.Errorf("saved overrides %+v", got)
	}
	if err := f.svc.SetOverridesFrom(ctx, ops, "nope", keys.OverrideForm{Rate: "x"}); keyhold.ErrorCode(err) != keyhold.ENOTFOUND {
		t.Errorf("unknown key: %v", err)
	}
}
