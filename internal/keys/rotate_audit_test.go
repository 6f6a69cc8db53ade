package keys_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
)

// TestRotationAuditSaysHowLongTheOldSecretWorks: the audit line of a
// rotation is how an owner later learns whether a leaked old secret still
// worked, so it must say "stopped at once" for no grace and the end of the
// grace otherwise.
func TestRotationAuditSaysHowLongTheOldSecretWorks(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	acct := f.MustAccount(t, "ada@example.com")
	for _, tt := range []struct {
		grace time.Duration
		want  string
	}{
		{0, "; old secret stopped at once"},
		{24 * time.Hour, "; old secret works until " + f.now.Add(24*time.Hour).UTC().Format("2006-01-02 15:04 MST")},
	} {
		k, _ := f.MustKey(t, acct, "k")
		if _, _, err := f.svc.Rotate(ctx, audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}, acct, k.ID, tt.grace); err != nil {
			t.Fatal(err)
		}
		entries, err := f.keyAudit(ctx, acct, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 0 || entries[0].Action != audit.KeyRotated || !strings.HasSuffix(entries[0].Detail, tt.want) {
			t.Errorf("grace %v: newest audit entry %+v, want a rotation ending %q", tt.grace, entries, tt.want)
		}
	}
}
