package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/store/storetest"
	"github.com/keyhold/keyhold/internal/verify"
)

// BenchmarkAddUsage is one flush of usage for 1000 keys (an hour row and
// a quota row each), as the verifier writes every second under load, on
// SQLite.
func BenchmarkAddUsage(b *testing.B) {
	db := storetest.Open(b, "sqlite://"+filepath.Join(b.TempDir(), "k.db"))
	acct := mustAccount(b, db, "ada@example.com")
	const n = 1000
	ids := make([]string, n)
	for i := range ids {
		k, s := newKey(acct.ID, time.Now().UTC().Truncate(time.Microsecond))
		if err := db.CreateKey(context.Background(), k, s.Hash(), n, entry(acct.ID, audit.KeyCreated)); err != nil {
			b.Fatal(err)
		}
		ids[i] = k.ID
	}
	hour := time.Now().UTC().Truncate(time.Hour)
	win := time.Date(hour.Year(), hour.Month(), 1, 0, 0, 0, 0, time.UTC)
	rows := make([]verify.Usage, n)
	for i, id := range ids {
		rows[i] = verify.Usage{KeyID: id, AccountID: acct.ID, Hour: hour, WindowStart: win, Valid: 3, Cost: 3, LastUsed: hour.Add(time.Minute)}
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if err := db.AddUsage(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
}
