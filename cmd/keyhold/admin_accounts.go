package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/mail"
)

// envInstances is the environment of the commands whose changes must reach
// running instances' cached keys.
const envInstances = `  KEYHOLD_REDIS_URL             as for keyhold serve, so running instances drop cached
                                keys at once (on PostgreSQL without it: NOTIFY; on
                                SQLite a running keyhold serve may answer from its
                                cache for up to 5 minutes)
  KEYHOLD_PLANS_FILE            JSON plan catalog, as for keyhold serve (default: the built-in one)
`

// suspendUsage is the usage of suspend (true) or unsuspend (false).
func suspendUsage(suspend bool) string {
	if suspend {
		return `Usage: keyhold admin suspend --email E

Suspends an account: its keys answer DISABLED (403) from their next
verification on every running instance, and its user sees only a page
saying so. Nothing is deleted; unsuspend lifts it. Audited, without an
actor (the command line).

Flags:
  --email E    the account's email address (required)
  -h, --help   print this help

Environment:
` + envDatabase + envInstances + envLog + `
Example:
  keyhold admin suspend --email abuser@example.com
`
	}
	return `Usage: keyhold admin unsuspend --email E

Lifts an account's suspension: its keys answer as before from their next
verification on every running instance. Audited, without an actor (the
command line).

Flags:
  --email E    the account's email address (required)
  -h, --help   print this help

Environment:
` + envDatabase + envInstances + envLog + `
Example:
  keyhold admin unsuspend --email customer@example.com
`
}

const revokeUsage = `Usage: keyhold admin revoke --key ID

Revokes a key of any account: it answers REVOKED from its next
verification on every running instance. ID is the key's id, as the
console shows it (/admin/keys/ID), not its secret. Audited, without an
actor (the command line).

Flags:
  --key ID     the key's id (required)
  -h, --help   print this help

Environment:
` + envDatabase + envInstances + envLog + `
Example:
  keyhold admin revoke --key 01J9Z6XK3M8Q2W5V7Y4T0R1N6B
`

var resetLinkUsage = fmt.Sprintf(`Usage: keyhold admin reset-link --email E

Prints a password reset link for an account, for an operator to hand to
its user (nothing is mailed). It works once, for %s; the user
chooses a new password there. Only the link is printed, on standard
output; anyone who has it can set the password. Audited, without an
actor (the command line).

Flags:
  --email E    the account's email address (required)
  -h, --help   print this help

Environment:
  KEYHOLD_BASE_URL              the portal's public URL, which the link starts with
                                (default http://localhost:8080)
%s%s
Example:
  keyhold admin reset-link --email locked-out@example.com
`, auth.ResetTTL, envDatabase, envLog)

// accountFlag parses the --email flag of a command about one account and
// returns the address, before anything is opened.
func accountFlag(verb, usage string, args []string, stdout, stderr io.Writer) (string, error) {
	fs := newFlags(verb)
	email := fs.String("email", "", "")
	if err := parseFlags(fs, args, usage, stdout, stderr); err != nil {
		return "", err
	}
	if *email == "" {
		return "", usageError(stderr, usage, "--email is required")
	}
	addr, err := auth.NormalizeEmail(*email)
	if err != nil {
		return "", fmt.Errorf("--email %q is not an email address", *email)
	}
	return addr, nil
}

// findUser returns the user with the email, in terminal words.
func findUser(ctx context.Context, svc *auth.Service, addr string) (*auth.User, error) {
	u, err := svc.UserByEmail(ctx, addr)
	if keyhold.ErrorCode(err) == keyhold.ENOTFOUND {
		return nil, fmt.Errorf("no user has the email %s; nothing was changed", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("find the user: %w", err)
	}
	return u, nil
}

// ownedAccount returns the one account whose first owner has the email: a
// user's personal account, unless they made or own others, which the
// command then names so the operator can pick in the console.
func ownedAccount(ctx context.Context, svc *auth.Service, addr string) (*auth.AccountSummary, error) {
	as, err := svc.Accounts(ctx, auth.AccountQuery{Email: addr})
	if err != nil {
		return nil, fmt.Errorf("find the account: %w", err)
	}
	var owned []auth.AccountSummary
	for _, a := range as {
		if a.OwnerEmail == addr {
			owned = append(owned, a)
		}
	}
	switch len(owned) {
	case 0:
		return nil, fmt.Errorf("no account is owned by %s; nothing was changed", addr)
	case 1:
		return &owned[0], nil
	}
	names := make([]string, len(owned))
	for i, a := range owned {
		names[i] = fmt.Sprintf("%s (%s)", a.Name, a.ID)
	}
	return nil, fmt.Errorf("%s owns %d accounts: %s; suspend the one you mean in the console; nothing was changed",
		addr, len(owned), strings.Join(names, ", "))
}

// setSuspended is keyhold admin suspend (suspended true) and unsuspend.
func setSuspended(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, suspended bool) error {
	usage, verb := suspendUsage(suspended), "suspend"
	if !suspended {
		verb = "unsuspend"
	}
	addr, err := accountFlag(verb, usage, args, stdout, stderr)
	if err != nil {
		return err
	}
	app, err := openApp(ctx, getenv, stderr, appNeeds{plans: true, secret: true})
	if err != nil {
		return err
	}
	defer app.Close()
	svc, err := auth.NewService(auth.Config{Store: app.db, Secret: app.secret})
	if err != nil {
		return err
	}
	_, done, err := reachInstances(ctx, app, nil, svc)
	if err != nil {
		return err
	}
	defer done()
	a, err := ownedAccount(ctx, svc, addr)
	if err != nil {
		return err
	}
	// No actor: the command line has the database, not a session.
	changed, err := svc.SetSuspended(ctx, audit.Actor{}, a.ID, suspended)
	if err != nil {
		return fmt.Errorf("%s: %w", verb, err)
	}
	switch {
	case !changed && suspended:
		fmt.Fprintf(stdout, "%s is already suspended; nothing was changed\n", a.Name)
	case !changed:
		fmt.Fprintf(stdout, "%s is not suspended; nothing was changed\n", a.Name)
	case suspended:
		fmt.Fprintf(stdout, "%s is suspended: its keys answer DISABLED\n", a.Name)
	default:
		fmt.Fprintf(stdout, "%s is no longer suspended: its keys answer as before\n", a.Name)
	}
	return nil
}

// revokeKey is keyhold admin revoke.
func revokeKey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("revoke")
	id := fs.String("key", "", "")
	if err := parseFlags(fs, args, revokeUsage, stdout, stderr); err != nil {
		return err
	}
	if *id == "" {
		return usageError(stderr, revokeUsage, "--key is required")
	}
	app, err := openApp(ctx, getenv, stderr, appNeeds{plans: true})
	if err != nil {
		return err
	}
	defer app.Close()
	keySvc, done, err := reachInstances(ctx, app, nil, nil)
	if err != nil {
		return err
	}
	defer done()
	// No actor: the command line has the database, not a session.
	k, err := keySvc.RevokeAny(ctx, audit.Actor{}, *id)
	switch {
	case keyhold.ErrorCode(err) == keyhold.ENOTFOUND:
		return fmt.Errorf("no key has the id %q; nothing was changed (the id is the one the console shows, not the secret)", *id)
	case err != nil && k != nil && k.RevokedAt != nil:
		fmt.Fprintf(stdout, "key %s (%s) is already revoked; nothing was changed\n", k.Name, k.Display)
		return nil
	case err != nil:
		return fmt.Errorf("revoke: %w", err)
	}
	fmt.Fprintf(stdout, "key %s (%s) of account %s is revoked: it answers REVOKED\n", k.Name, k.Display, k.AccountID)
	return nil
}

// resetLink is keyhold admin reset-link. The link is printed on stdout and
// nowhere else: the token in it sets the password.
func resetLink(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	addr, err := accountFlag("reset-link", resetLinkUsage, args, stdout, stderr)
	if err != nil {
		return err
	}
	app, err := openApp(ctx, getenv, stderr, appNeeds{secret: true})
	if err != nil {
		return err
	}
	defer app.Close()
	svc, err := auth.NewService(auth.Config{Store: app.db, Secret: app.secret, Email: app.db})
	if err != nil {
		return err
	}
	a, err := findUser(ctx, svc, addr)
	if err != nil {
		return err
	}
	// No actor: the command line has the database, not a session.
	token, err := svc.ResetLink(ctx, audit.Actor{}, a.ID)
	if err != nil {
		return fmt.Errorf("reset-link: %w", err)
	}
	fmt.Fprintln(stdout, mail.Link(app.cfg.BaseURL, auth.PurposePasswordReset, token))
	fmt.Fprintf(stderr, "password reset link for %s: it works once, until %s\n", a.Email, time.Now().Add(auth.ResetTTL).UTC().Format(time.RFC3339))
	return nil
}
