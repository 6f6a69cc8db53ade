package main

import (
	"context"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/rootkey"
	"github.com/keyhold/keyhold/internal/store"
)

// TestAdminRootKeyCommands: create-root-key prints exactly the key on
// stdout (and what it is on stderr), the key authenticates with its
// permissions and is audited without an actor; revoke-root-key refuses it
// from the next call; bad command lines change nothing and say why.
func TestAdminRootKeyCommands(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	r := runCommand(t, env, "", "admin", "create-root-key", "--name", "CRM", "--permission", "keys.write", "--permission", "accounts.read", "--permission", "keys.write")
	if r.Err != nil {
		t.Fatalf("create-root-key: %v\n%s", r.Err, r.Stderr)
	}
	key := strings.TrimSuffix(r.Stdout, "\n")
	if r.Stdout != key+"\n" || strings.ContainsAny(key, " \n") {
		t.Fatalf("stdout %q is not one line with the key", r.Stdout)
	}
	if _, err := keys.Root.Parse(key); err != nil {
		t.Fatalf("stdout %q is not a root key: %v", key, err)
	}
	if strings.Contains(r.Stderr, key) || !strings.Contains(r.Stderr, `root key "CRM"`) || !strings.Contains(r.Stderr, "accounts.read, keys.write") {
		t.Errorf("stderr %q", r.Stderr)
	}

	ctx := context.Background()
	db, err := store.Open(ctx, env["KEYHOLD_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc, err := rootkey.NewService(rootkey.Config{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	k, err := svc.Authenticate(ctx, key)
	if err != nil || k.Name != "CRM" || strings.Join(k.Permissions, " ") != "accounts.read keys.write" || k.CreatedBy != "" {
		t.Fatalf("Authenticate = %+v, %v", k, err)
	}
	rs, err := db.AuditLog(ctx, auth.AuditQuery{Action: "root_key.created", Limit: 5})
	if err != nil || len(rs) != 1 || rs[0].ActorID != "" || rs[0].TargetID != k.ID {
		t.Errorf("audit %+v, %v; want one entry without an actor", rs, err)
	}

	runAdminSteps(t, env, []adminStep{
		{[]string{"create-root-key"}, 2, "--name and --permission are required"},
		{[]string{"create-root-key", "--name", "x"}, 2, "--permission is required"},
		{[]string{"create-root-key", "--permission", "keys.read"}, 2, "--name is required"},
		{[]string{"create-root-key", "--name", "x", "--permission", "keys.delete"}, 2, `Unknown permission "keys.delete"`},
		{[]string{"create-root-key", "--name", strings.Repeat("n", 65), "--permission", "keys.read"}, 1, "at most 64 characters; nothing was created"},
		{[]string{"create-root-key", "--name", "x", "--permission"}, 2, "--permission needs a value"},

		{[]string{"revoke-root-key"}, 2, "--id is required"},
		{[]string{"revoke-root-key", "--id", "nope"}, 1, `no root key has the id "nope"; nothing was changed`},
		{[]string{"revoke-root-key", "--id", k.ID}, 0, `root key "CRM" (` + k.Display + `) is revoked`},
		{[]string{"revoke-root-key", "--id", k.ID}, 0, "is already revoked; nothing was changed"},
	})
	if _, err := svc.Authenticate(ctx, key); keyhold.ErrorCode(err) != keyhold.EUNAUTHORIZED {
		t.Errorf("revoked key: %v, want EUNAUTHORIZED", err)
	}
	if ks, _ := svc.List(ctx); len(ks) != 1 {
		t.Errorf("%d root keys, want only the one made (refused command lines made none)", len(ks))
	}
	for _, cmd := range []string{"create-root-key --name N --permission P [--permission P…]", "revoke-root-key --id ID"} {
		if r := runCommand(t, env, "", "admin", "--help"); !strings.Contains(r.Stdout, "keyhold admin "+cmd) {
			t.Errorf("admin usage does not list %s:\n%s", cmd, r.Stdout)
		}
	}
}
