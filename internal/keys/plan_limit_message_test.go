package keys_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/store/storetest"
)

// TestPlanLimitMessageCountsKeys: the refusal names the plan's limit in
// words the owner reads ("1 active key", "2 active keys"), for a plan of one
// key as well as of several.
func TestPlanLimitMessageCountsKeys(t *testing.T) {
	for _, tt := range []struct {
		maxKeys int
		want    string
	}{
		{1, "Your Solo plan allows 1 active key. "},
		{2, "Your Solo plan allows 2 active keys. "},
	} {
		t.Run(tt.want, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.New(t, storetest.SQLite)
			cat, err := plans.New([]plans.Plan{{ID: "free", Name: "Solo", Price: "$0", RatePerSecond: 1, Burst: 1, MonthlyQuota: 1, MaxKeys: tt.maxKeys}})
			if err != nil {
				t.Fatal(err)
			}
			svc, err := keys.NewService(keys.Config{Store: db, Plans: cat})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			acct := mustAccount(t, db, "ada@example.com", now)
			actor := audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}
			for range tt.maxKeys {
				if _, _, err := svc.Create(ctx, actor, acct, keys.Settings{Name: "k"}); err != nil {
					t.Fatal(err)
				}
			}
			_, _, err = svc.Create(ctx, actor, acct, keys.Settings{Name: "one too many"})
			if keyhold.ErrorCode(err) != keyhold.ELIMIT || !strings.HasPrefix(keyhold.ErrorMessage(err), tt.want) {
				t.Errorf("got %v (%q), want ELIMIT starting %q", err, keyhold.ErrorMessage(err), tt.want)
			}
		})
	}
}
