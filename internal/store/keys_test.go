package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/store/storetest"
)

func newKey(accountID string, now time.Time) (*keys.Key, keys.Secret) {
	s, _ := keys.Generate()
	return &keys.Key{ID: keyhold.NewID(), AccountID: accountID, Name: "k", Display: s.Display(),
		Scopes: []string{"read"}, Meta: json.RawMessage(`{"a":"b"}`), CreatedAt: now, UpdatedAt: now}, s
}

func entry(accountID, action string, keyID ...string) audit.Entry {
	e := audit.Entry{ID: keyhold.NewID(), AccountID: accountID, Action: action, TargetType: "key", CreatedAt: time.Now()}
	if len(keyID) > 0 {
		e.TargetID = keyID[0]
	}
	return e
}

func TestKeys(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := mustAccount(t, db, "ada@example.com")
		now := time.Now().UTC().Truncate(time.Microsecond)
		k, s := newKey(a.ID, now)
		if err := db.CreateKey(ctx, k, s.Hash(), 2, entry(a.ID, audit.KeyCreated)); err != nil {
			t.Fatal(err)
		}
		k2, s2 := newKey(a.ID, now.Add(time.Second))
		if err := db.CreateKey(ctx, k2, s2.Hash(), 2, entry(a.ID, audit.KeyCreated)); err != nil {
			t.Fatal(err)
		}
		k3, s3 := newKey(a.ID, now)
		if err := db.CreateKey(ctx, k3, s3.Hash(), 2, entry(a.ID, audit.KeyCreated)); !errors.Is(err, keys.ErrLimit) {
			t.Errorf("third key on a two-key limit: %v", err)
		}
		list, err := listKeys(ctx, db, a.ID)
		if err != nil || len(list) != 2 || list[0].ID != k2.ID {
			t.Fatalf("list newest first: %v %v", list, err)
		}
		got, err := findKey(ctx, db, keys.KeyFilter{AccountID: a.ID, ID: k.ID})
		if err != nil || string(got.Meta) != `{"a":"b"}` || got.Scopes[0] != "read" || !got.CreatedAt.Equal(now) {
			t.Errorf("key round trip: %+v %v", got, err)
		}
		other := mustAccount(t, db, "bob@example.com")
		if _, err := findKey(ctx, db, keys.KeyFilter{AccountID: other.ID, ID: k.ID}); !errors.Is(err, keys.ErrNotFound) {
			t.Errorf("another account's key: %v", err)
		}
		if err := db.RevokeKey(ctx, other.ID, k.ID, now, entry(other.ID, audit.KeyRevoked)); !errors.Is(err, keys.ErrNotFound) {
			t.Errorf("revoking another account's key: %v", err)
		}

		ns, _ := keys.Generate()
		if err := db.RotateKey(ctx, a.ID, k.ID, ns.Hash(), ns.Display(), now, now.Add(time.Hour), entry(a.ID, audit.KeyRotated, k.ID)); err != nil {
			t.Fatal(err)
		}
		if err := db.RevokeKey(ctx, a.ID, k.ID, now.Add(time.Second), entry(a.ID, audit.KeyRevoked, k.ID)); err != nil {
			t.Fatal(err)
		}
		if err := db.RevokeKey(ctx, a.ID, k.ID, now, entry(a.ID, audit.KeyRevoked)); !errors.Is(err, keys.ErrNotFound) {
			t.Errorf("second revoke: %v", err)
		}
		es, err := db.KeyAudit(ctx, a.ID, k.ID, 10)
		if err != nil || len(es) != 2 || es[0].Action != audit.KeyRevoked || es[1].Action != audit.KeyRotated {
			t.Errorf("audit of the key, newest first: %+v %v", es, err)
		}
		if es, _ := db.KeyAudit(ctx, other.ID, k.ID, 10); len(es) != 0 {
			t.Errorf("another account sees the key's audit: %+v", es)
		}
		plan, err := db.AccountPlan(ctx, a.ID)
		if err != nil || plan != "free" {
			t.Errorf("plan %q %v", plan, err)
		}
	})
}

// TestDumpHoldsNoKey creates and rotates keys, then reads every byte of the
// SQLite database files: no plaintext key may be there.
func TestDumpHoldsNoKey(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db := storetest.Open(t, "sqlite://"+filepath.Join(dir, "k.db"))
	a := mustAccount(t, db, "ada@example.com")
	now := time.Now().UTC()
	var secrets []keys.Secret
	for range 3 {
		k, s := newKey(a.ID, now)
		if err := db.CreateKey(ctx, k, s.Hash(), 10, entry(a.ID, audit.KeyCreated)); err != nil {
			t.Fatal(err)
		}
		ns, _ := keys.Generate()
		if err := db.RotateKey(ctx, a.ID, k.ID, ns.Hash(), ns.Display(), now, now.Add(time.Hour), entry(a.ID, audit.KeyRotated)); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, s, ns)
	}
	db.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "k.db*"))
	var dump strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dump.Write(b)
	}
	if dump.Len() == 0 {
		t.Fatal("empty dump")
	}
	for _, s := range secrets {
		plain := s.Reveal()
		if strings.Contains(dump.String(), plain) || strings.Contains(dump.String(), plain[8:40]) {
			t.Fatal("a plaintext key is in the database files")
		}
	}
}

// findKey returns the one key f selects, or keys.ErrNotFound.
func findKey(ctx context.Context, db *store.DB, f keys.KeyFilter) (*keys.Key, error) {
	ks, err := db.FindKeys(ctx, f)
	if err != nil {
		return nil, err
	}
	if len(ks) != 1 {
		return nil, keys.ErrNotFound
	}
	return ks[0].Key, nil
}

// listKeys returns an account's keys, as the key service lists them.
func listKeys(ctx context.Context, db *store.DB, accountID string) ([]*keys.Key, error) {
	ks, err := db.FindKeys(ctx, keys.KeyFilter{AccountID: accountID})
	if err != nil {
		return nil, err
	}
	out := make([]*keys.Key, len(ks))
	for i := range ks {
		out[i] = ks[i].Key
	}
	return out, nil
}
