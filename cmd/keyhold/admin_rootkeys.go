package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/rootkey"
)

var createRootKeyUsage = fmt.Sprintf(`Usage: keyhold admin create-root-key --name N --permission P [--permission P…]

Creates a root key of the management API and prints only the key on
standard output, so it can be piped into a secret store; a line on
standard error says what it is. It is shown this once: Keyhold keeps only
its hash. Audited, without an actor (the command line).

Flags:
  --name N         what uses the key, 1 to %d characters (required)
  --permission P   a permission the key holds; repeat for more (at least one):
                   %s
  -h, --help       print this help

Environment:
%s%s
Example:
  keyhold admin create-root-key --name "CRM provisioning" \
      --permission accounts.write --permission keys.write > crm-root-key
`, rootkey.MaxNameLen, wrapList(rootkey.Permissions, 19, 78), envDatabase, envLog)

// wrapList joins items with ", " in lines of at most width columns, every
// line after the first indented by indent spaces (the first one is
// indented by the text around it).
func wrapList(items []string, indent, width int) string {
	var b strings.Builder
	col := indent
	for i, it := range items {
		if i > 0 {
			b.WriteString(",")
			col++
			if col+1+len(it)+1 > width {
				b.WriteString("\n" + strings.Repeat(" ", indent))
				col = indent
			} else {
				b.WriteString(" ")
				col++
			}
		}
		b.WriteString(it)
		col += len(it)
	}
	return b.String()
}

const revokeRootKeyUsage = `Usage: keyhold admin revoke-root-key --id ID

Revokes a root key of the management API: every running instance refuses
it from its next call (root keys are not cached). ID is the key's id, as
the console lists it at /admin/root-keys, not the key. Audited, without an
actor (the command line).

Flags:
  --id ID      the root key's id (required)
  -h, --help   print this help

Environment:
` + envDatabase + envLog + `
Example:
  keyhold admin revoke-root-key --id 01J9Z6XK3M8Q2W5V7Y4T0R1N6B
`

// stringsFlag is a flag that may be given more than once.
type stringsFlag []string

func (f *stringsFlag) String() string     { return strings.Join(*f, ",") }
func (f *stringsFlag) Set(v string) error { *f = append(*f, v); return nil }

// createRootKey is keyhold admin create-root-key. The flags and the
// permissions are checked before the database is opened.
func createRootKey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("create-root-key")
	name := fs.String("name", "", "")
	var perms stringsFlag
	fs.Var(&perms, "permission", "")
	if err := parseFlags(fs, args, createRootKeyUsage, stdout, stderr); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(*name) == "" && len(perms) == 0:
		return usageError(stderr, createRootKeyUsage, "--name and --permission are required")
	case strings.TrimSpace(*name) == "":
		return usageError(stderr, createRootKeyUsage, "--name is required")
	case len(perms) == 0:
		return usageError(stderr, createRootKeyUsage, "--permission is required (at least one)")
	}
	if _, err := rootkey.CheckPermissions(perms); err != nil {
		return usageError(stderr, createRootKeyUsage, "--permission: %s", keyhold.ErrorMessage(err))
	}
	app, err := openApp(ctx, getenv, stderr, appNeeds{})
	if err != nil {
		return err
	}
	defer app.Close()
	svc, err := rootkey.NewService(rootkey.Config{Store: app.db})
	if err != nil {
		return err
	}
	// No actor: the command line has the database, not a session.
	k, secret, err := svc.Create(ctx, audit.Actor{}, *name, perms)
	if keyhold.ErrorCode(err) == keyhold.EINVALID {
		// The service's sentence ends with a full stop; the terminal's
		// line goes on.
		return fmt.Errorf("--name %q: %s; nothing was created", *name, strings.TrimSuffix(keyhold.ErrorMessage(err), "."))
	}
	if err != nil {
		return fmt.Errorf("create-root-key: %w", err)
	}
	fmt.Fprintln(stdout, secret.Reveal())
	fmt.Fprintf(stderr, "root key %q (%s, id %s) with %s: shown only now; keep it in a secret store\n",
		k.Name, k.Display, k.ID, strings.Join(k.Permissions, ", "))
	return nil
}

// revokeRootKey is keyhold admin revoke-root-key.
func revokeRootKey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("revoke-root-key")
	id := fs.String("id", "", "")
	if err := parseFlags(fs, args, revokeRootKeyUsage, stdout, stderr); err != nil {
		return err
	}
	if *id == "" {
		return usageError(stderr, revokeRootKeyUsage, "--id is required")
	}
	app, err := openApp(ctx, getenv, stderr, appNeeds{})
	if err != nil {
		return err
	}
	defer app.Close()
	svc, err := rootkey.NewService(rootkey.Config{Store: app.db})
	if err != nil {
		return err
	}
	k, err := svc.Revoke(ctx, audit.Actor{}, *id)
	switch {
	case keyhold.ErrorCode(err) == keyhold.ENOTFOUND:
		return fmt.Errorf("no root key has the id %q; nothing was changed (the id is the one /admin/root-keys lists, not the key)", *id)
	case keyhold.ErrorCode(err) == keyhold.EINVALID && k != nil:
		fmt.Fprintf(stdout, "root key %q (%s) is already revoked; nothing was changed\n", k.Name, k.Display)
		return nil
	case err != nil:
		return fmt.Errorf("revoke-root-key: %w", err)
	}
	fmt.Fprintf(stdout, "root key %q (%s) is revoked: the management API refuses it from its next call\n", k.Name, k.Display)
	return nil
}
