package keyhold_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	keyhold "github.com/keyhold/keyhold/sdk/go"
)

// rootKey makes a root key with perms with keyhold admin create-root-key,
// which prints only the key.
func rootKey(t *testing.T, perms ...string) string {
	t.Helper()
	k, err := makeRootKey("sdk test", perms...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// makeRootKey runs keyhold admin create-root-key on the test Keyhold.
func makeRootKey(name string, perms ...string) (string, error) {
	args := []string{"admin", "create-root-key", "--name", name}
	for _, p := range perms {
		args = append(args, "--permission", p)
	}
	cmd := exec.Command(keyholdBin, args...)
	cmd.Env = keyholdEnv
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("keyhold admin create-root-key: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

var allPermissions = []string{"accounts.read", "accounts.write", "keys.read", "keys.write", "usage.read", "audit.read", "webhooks.write"}

// TestManagement: an integration's whole round through the SDK against a
// real Keyhold: make an account and a key, verify it, list, change,
// rotate and revoke it, read usage and the audit log.
func TestManagement(t *testing.T) {
	ctx := context.Background()
	root := rootKey(t, allPermissions...)
	kh := keyhold.New(keyholdURL, keyhold.WithRootKey(root))

	ext := "cus-" + time.Now().Format("150405.000000")
	acct, err := kh.CreateAccount(ctx, keyhold.NewAccount{Name: "Acme", ExternalID: ext})
	if err != nil {
		t.Fatal(err)
	}
	if acct.ID == "" || acct.Name != "Acme" || acct.ExternalID == nil || *acct.ExternalID != ext || acct.Suspended {
		t.Fatalf("account %+v", acct)
	}
	found, err := kh.Accounts(ctx, keyhold.AccountFilter{ExternalID: ext})
	if err != nil || len(found.Data) != 1 || found.Data[0].ID != acct.ID {
		t.Fatalf("accounts by external id: %+v %v", found, err)
	}

	k, err := kh.CreateKey(ctx, acct.ID, keyhold.NewKey{Name: "production", Scopes: []string{"read"}, Meta: map[string]any{"tier": "gold"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.Secret, "kh_live_") || k.Status != "active" || k.AccountID != acct.ID || k.Meta["tier"] != "gold" {
		t.Fatalf("key %+v", k.Key)
	}
	v, err := kh.Verify(ctx, k.Secret, keyhold.VerifyOptions{Scopes: []string{"read"}})
	if err != nil || !v.Valid || v.KeyID != k.ID || v.OwnerID != acct.ID {
		t.Fatalf("verify the new key: %+v %v", v, err)
	}

	name := "renamed"
	if u, err := kh.UpdateKey(ctx, k.ID, keyhold.KeyUpdate{Name: &name}); err != nil || u.Name != name {
		t.Fatalf("update: %+v %v", u, err)
	}
	list, err := kh.Keys(ctx, keyhold.KeyFilter{AccountID: acct.ID, Page: keyhold.Page{Limit: 10}})
	if err != nil || len(list.Data) != 1 || list.Data[0].Name != name || list.HasMore {
		t.Fatalf("keys: %+v %v", list, err)
	}

	rot, err := kh.RotateKey(ctx, k.ID, 0)
	if err != nil || rot.Secret == "" || rot.Secret == k.Secret {
		t.Fatalf("rotate: %v", err)
	}
	if v, _ := kh.Verify(ctx, rot.Secret, keyhold.VerifyOptions{}); v == nil || !v.Valid {
		t.Fatalf("the rotated secret: %+v", v)
	}
	if _, err := kh.RevokeKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if v, err := kh.Verify(ctx, rot.Secret, keyhold.VerifyOptions{}); err != nil || v.Valid || v.Code != keyhold.CodeRevoked {
		t.Fatalf("verify after revoke: %+v %v", v, err)
	}

	usage, err := kh.KeyUsage(ctx, k.ID, keyhold.UsageRange{Granularity: "hour"})
	if err != nil || len(usage.Data) == 0 || usage.Granularity != "hour" {
		t.Fatalf("usage: %+v %v", usage, err)
	}
	if _, err := kh.AccountUsage(ctx, acct.ID, keyhold.UsageRange{}); err != nil {
		t.Fatal(err)
	}

	suspended := true
	if a, err := kh.UpdateAccount(ctx, acct.ID, keyhold.AccountUpdate{Suspended: &suspended}); err != nil || !a.Suspended {
		t.Fatalf("suspend: %+v %v", a, err)
	}
	entries, err := kh.Audit(ctx, keyhold.AuditFilter{AccountID: acct.ID, Action: "key."})
	if err != nil || len(entries.Data) == 0 {
		t.Fatalf("audit: %+v %v", entries, err)
	}
	for _, e := range entries.Data {
		if e.Actor.Type != "root_key" {
			t.Errorf("entry %s %s by %s, not the root key", e.Action, e.ID, e.Actor.Type)
		}
	}
}

// TestManagementErrors: Keyhold's refusals are *APIError with its message
// and the fields to fix; none repeats the root key.
func TestManagementErrors(t *testing.T) {
	ctx := context.Background()
	root := rootKey(t, "keys.read")
	kh := keyhold.New(keyholdURL, keyhold.WithRootKey(root))

	_, err := kh.CreateAccount(ctx, keyhold.NewAccount{Name: "x"})
	var apiErr *keyhold.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden || !strings.Contains(apiErr.Detail, "accounts.write") {
		t.Fatalf("missing permission: %v", err)
	}
	if _, err := kh.Key(ctx, "01jnotakey000000000000000"); !keyhold.IsNotFound(err) {
		t.Fatalf("unknown key: %v", err)
	}

	writer := keyhold.New(keyholdURL, keyhold.WithRootKey(rootKey(t, "accounts.write")))
	_, err = writer.CreateAccount(ctx, keyhold.NewAccount{Name: ""})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnprocessableEntity || len(apiErr.Errors) == 0 {
		t.Fatalf("empty name: %v", err)
	}

	bad := keyhold.New(keyholdURL, keyhold.WithRootKey(root[:len(root)-2]+"xx"))
	_, err = bad.Keys(ctx, keyhold.KeyFilter{})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad root key: %v", err)
	}
	for _, e := range []error{err} {
		if strings.Contains(e.Error(), root[8:]) {
			t.Error("an error repeats the root key")
		}
	}
	if _, err := keyhold.New(keyholdURL).Keys(ctx, keyhold.KeyFilter{}); !errors.Is(err, keyhold.ErrNoRootKey) {
		t.Fatalf("no root key: %v", err)
	}
}
