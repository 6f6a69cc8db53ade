package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/store"
)

// A key row whose metadata no longer passes keys.CheckMeta (written before
// the check, or by hand) must still be read by every query: the store
// passes the stored text through instead of decoding it. The meta column is
// TEXT on both databases (migrations/0002_keys.sql), so PostgreSQL stores
// 1e999 as readily as SQLite does.
func TestKeyWithUnreadableStoredMeta(t *testing.T) {
	for _, stored := range []string{
		`{"big":1e999,"team":"core"}`,
		`{"id":12345678901234567890}`,
		`not json at all`,
	} {
		t.Run(stored, func(t *testing.T) {
			forEachDB(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				a := mustAccount(t, db, "ada@example.com")
				now := time.Now().UTC().Truncate(time.Microsecond)
				k, s := newKey(a.ID, now)
				if err := db.CreateKey(ctx, k, s.Hash(), 10, entry(a.ID, audit.KeyCreated, k.ID)); err != nil {
					t.Fatal(err)
				}
				if err := db.Exec(ctx, "UPDATE api_keys SET meta = ? WHERE id = ?", stored, k.ID); err != nil {
					t.Fatalf("raw update: %v", err)
				}
				check := func(what string, got *keys.Key, err error) {
					t.Helper()
					if err != nil {
						t.Fatalf("%s: %v", what, err)
					}
					if got.ID != k.ID || got.Name != "k" || len(got.Scopes) != 1 {
						t.Errorf("%s: %+v", what, got)
					}
					if string(got.Meta) != stored {
						t.Errorf("%s: meta %s, want the stored text %s", what, got.Meta, stored)
					}
				}
				got, err := findKey(ctx, db, keys.KeyFilter{AccountID: a.ID, ID: k.ID})
				check("FindKeys by account and id", got, err)
				list, err := listKeys(ctx, db, a.ID)
				if err != nil || len(list) != 1 {
					t.Fatalf("FindKeys by account: %d %v", len(list), err)
				}
				check("FindKeys by account", list[0], nil)
				got, err = findKey(ctx, db, keys.KeyFilter{ID: k.ID})
				check("FindKeys by id", got, err)
				found, err := db.FindKeys(ctx, keys.KeyFilter{Limit: 10, Now: now})
				if err != nil || len(found) != 1 {
					t.Fatalf("FindKeys: %d %v", len(found), err)
				}
				check("FindKeys", found[0].Key, nil)
				rec, err := db.KeyByHash(ctx, s.Hash())
				if err != nil {
					t.Fatalf("KeyByHash: %v", err)
				}
				check("KeyByHash", rec.Key, nil)
				// Revoking it must work too: the owner's way out.
				if err := db.RevokeKey(ctx, a.ID, k.ID, now, entry(a.ID, audit.KeyRevoked, k.ID)); err != nil {
					t.Fatalf("RevokeKey: %v", err)
				}
			})
		})
	}
}
