package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/rootkey"
	"github.com/keyhold/keyhold/internal/store"
)

// TestRootKeys: root keys are stored with their permissions and creator,
// listed newest first with the creator's email, found by id and by hash
// (never by another key's hash), revoked once with an audit entry each
// time, and their last use written only when older than the bound.
func TestRootKeys(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ops := mustAccount(t, db, "ops@example.com")
		t0 := time.Now().UTC().Truncate(time.Second)
		entry := func(action, id string) audit.Entry {
			return audit.Entry{ID: keyhold.NewID(), ActorID: ops.ID, Action: action, TargetType: audit.TargetRootKey, TargetID: id, CreatedAt: t0}
		}
		mk := func(name string, at time.Time, by string, perms ...string) (*rootkey.RootKey, keys.Secret) {
			s, _ := keys.Root.Generate()
			k := &rootkey.RootKey{ID: keyhold.NewID(), Name: name, Display: s.Display(), Permissions: perms, CreatedBy: by, CreatedAt: at}
			if err := db.CreateRootKey(ctx, k, s.Hash(), entry(audit.RootKeyCreated, k.ID)); err != nil {
				t.Fatal(err)
			}
			return k, s
		}
		older, olderSecret := mk("billing job", t0.Add(-time.Hour), ops.ID, rootkey.AccountsRead, rootkey.UsageRead)
		newer, _ := mk("provisioning", t0, "", rootkey.KeysWrite)

		ks, err := db.RootKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ks) != 2 || ks[0].ID != newer.ID || ks[1].ID != older.ID {
			t.Fatalf("RootKeys = %+v, want newest first", ks)
		}
		if got := ks[1]; got.CreatedByEmail != "ops@example.com" || got.Name != "billing job" || !slices.Equal(got.Permissions, older.Permissions) ||
			!got.CreatedAt.Equal(older.CreatedAt) || got.LastUsedAt != nil || got.RevokedAt != nil || got.Display != older.Display {
			t.Errorf("older key read as %+v", got)
		}
		if ks[0].CreatedByEmail != "" || ks[0].CreatedBy != "" {
			t.Errorf("a key made on the command line has creator %q <%s>", ks[0].CreatedBy, ks[0].CreatedByEmail)
		}

		if k, err := db.RootKeyByHash(ctx, olderSecret.Hash()); err != nil || k.ID != older.ID {
			t.Errorf("RootKeyByHash = %+v, %v", k, err)
		}
		live, _ := keys.Generate()
		if _, err := db.RootKeyByHash(ctx, live.Hash()); !errors.Is(err, rootkey.ErrNotFound) {
			t.Errorf("RootKeyByHash of an unknown hash: %v, want ErrNotFound", err)
		}
		if _, err := db.RootKey(ctx, "nope"); !errors.Is(err, rootkey.ErrNotFound) {
			t.Errorf("RootKey(nope): %v, want ErrNotFound", err)
		}

		// Last use: written when null, not again until older than before.
		steps := []struct {
			now, before time.Time
			want        bool
		}{
			{t0, t0.Add(-time.Minute), true},
			{t0.Add(30 * time.Second), t0.Add(-30 * time.Second), false},
			{t0.Add(61 * time.Second), t0.Add(time.Second), true},
		}
		for i, st := range steps {
			got, err := db.TouchRootKey(ctx, older.ID, st.now, st.before)
			if err != nil || got != st.want {
				t.Errorf("touch %d: %v, %v; want %v", i, got, err, st.want)
			}
		}
		if k, _ := db.RootKey(ctx, older.ID); k.LastUsedAt == nil || !k.LastUsedAt.Equal(t0.Add(61*time.Second)) {
			t.Errorf("last use %v, want %v", k.LastUsedAt, t0.Add(61*time.Second))
		}

		if err := db.RevokeRootKey(ctx, older.ID, t0, entry(audit.RootKeyRevoked, older.ID)); err != nil {
			t.Fatal(err)
		}
		if err := db.RevokeRootKey(ctx, older.ID, t0, entry(audit.RootKeyRevoked, older.ID)); !errors.Is(err, rootkey.ErrNotFound) {
			t.Errorf("second revoke: %v, want ErrNotFound", err)
		}
		if err := db.RevokeRootKey(ctx, "nope", t0, entry(audit.RootKeyRevoked, "nope")); !errors.Is(err, rootkey.ErrNotFound) {
			t.Errorf("revoke of no key: %v, want ErrNotFound", err)
		}
		if k, err := db.RootKeyByHash(ctx, olderSecret.Hash()); err != nil || k.RevokedAt == nil || !k.RevokedAt.Equal(t0) {
			t.Errorf("revoked key by hash: %+v, %v", k, err)
		}
		rs, err := db.AuditLog(ctx, auth.AuditQuery{Action: "root_key.", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var created, revoked int
		for _, r := range rs {
			switch r.Action {
			case audit.RootKeyCreated:
				created++
			case audit.RootKeyRevoked:
				revoked++
			}
		}
		if created != 2 || revoked != 1 {
			t.Errorf("audit: %d created, %d revoked; want 2 and 1", created, revoked)
		}
	})
}

// TestRootKeyHashUnique: two keys with one hash cannot both be stored, and
// the refused one leaves no audit entry.
func TestRootKeyHashUnique(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := keys.Root.Generate()
		now := time.Now().UTC()
		for i, want := range []bool{true, false} {
			k := &rootkey.RootKey{ID: keyhold.NewID(), Name: "k", Display: s.Display(), Permissions: []string{rootkey.KeysRead}, CreatedAt: now}
			e := audit.Entry{ID: keyhold.NewID(), Action: audit.RootKeyCreated, TargetType: audit.TargetRootKey, TargetID: k.ID, CreatedAt: now}
			if err := db.CreateRootKey(ctx, k, s.Hash(), e); (err == nil) != want {
				t.Errorf("create %d: %v", i, err)
			}
		}
		rs, err := db.AuditLog(ctx, auth.AuditQuery{Action: audit.RootKeyCreated, Limit: 10})
		if err != nil || len(rs) != 1 {
			t.Errorf("audit entries %d, %v; want 1", len(rs), err)
		}
	})
}
