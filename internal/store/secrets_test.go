package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/store"
)

// SecretHashes lists every secret a verification could name: current,
// rotated out within its grace period, and revoked keys' (which answer
// REVOKED, not NOT_FOUND).
func TestSecretHashes(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := mustAccount(t, db, "ada@example.com")
		now := time.Now().UTC()
		want := map[[32]byte]bool{}
		k, s := newKey(a.ID, now)
		if err := db.CreateKey(ctx, k, s.Hash(), 10, entry(a.ID, audit.KeyCreated)); err != nil {
			t.Fatal(err)
		}
		ns, _ := keys.Generate()
		if err := db.RotateKey(ctx, a.ID, k.ID, ns.Hash(), ns.Display(), now, now.Add(time.Hour), entry(a.ID, audit.KeyRotated)); err != nil {
			t.Fatal(err)
		}
		want[s.Hash()], want[ns.Hash()] = true, true
		r, rs := newKey(a.ID, now)
		if err := db.CreateKey(ctx, r, rs.Hash(), 10, entry(a.ID, audit.KeyCreated)); err != nil {
			t.Fatal(err)
		}
		if err := db.RevokeKey(ctx, a.ID, r.ID, now, entry(a.ID, audit.KeyRevoked)); err != nil {
			t.Fatal(err)
		}
		want[rs.Hash()] = true

		got := map[[32]byte]bool{}
		if err := db.SecretHashes(ctx, func(h [32]byte) { got[h] = true }); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d hashes, want %d", len(got), len(want))
		}
		for h := range want {
			if !got[h] {
				t.Errorf("hash %x missing", h[:4])
			}
		}
	})
}
