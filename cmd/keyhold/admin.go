package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
)

const adminUsage = `Usage: keyhold admin COMMAND

Operator commands.

Commands:
  keyhold admin create-user --email E --password-stdin [--admin]
      create an account, reading its password from standard input
  keyhold admin promote --email E
      make an existing account an operator, who sees the console at /admin
  keyhold admin demote --email E
      take an account's operator role away
  keyhold admin suspend --email E
      suspend an account: its keys answer DISABLED on every instance
  keyhold admin unsuspend --email E
      lift an account's suspension
  keyhold admin revoke --key ID
      revoke any account's key, by its id as the console shows it
  keyhold admin reset-link --email E
      print a password reset link to hand to the account's user
  keyhold admin create-root-key --name N --permission P [--permission P…]
      create a root key of the management API; prints only the key
  keyhold admin revoke-root-key --id ID
      revoke a root key: the management API refuses it at once

Flags:
  -h, --help   print this help

Run "keyhold admin COMMAND --help" for a command's flags and environment.
`

var createUserUsage = fmt.Sprintf(`Usage: keyhold admin create-user --email E --password-stdin [--admin]

Creates an account that can log in to the portal at once. The password is
the first line of standard input, so it stays out of the shell history and
the process list; it must have %d to %d characters.

Flags:
  --email E          the account's email address (required)
  --password-stdin   read the password from standard input (required)
  --admin            make the account an operator, who sees the console at /admin
  -h, --help         print this help

Environment:
%s  KEYHOLD_SECRET                give it the value keyhold serve has, if any
                                (default: the one kept in the database)
%s
Example:
  printf '%%s\n' "$PASSWORD" | keyhold admin create-user --email ops@example.com --password-stdin --admin
`, auth.MinPasswordLen, auth.MaxPasswordLen, envDatabase, envLog)

// admin runs operator commands: create-user, promote, demote, suspend,
// unsuspend, revoke, reset-link, create-root-key and revoke-root-key.
func admin(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	name, rest, err := subcommand(args, []string{"create-user", "promote", "demote", "suspend", "unsuspend", "revoke", "reset-link", "create-root-key", "revoke-root-key"}, adminUsage, stdout, stderr)
	if err != nil {
		return err
	}
	switch name {
	case "promote":
		return setOperator(ctx, rest, getenv, stdout, stderr, true)
	case "demote":
		return setOperator(ctx, rest, getenv, stdout, stderr, false)
	case "suspend":
		return setSuspended(ctx, rest, getenv, stdout, stderr, true)
	case "unsuspend":
		return setSuspended(ctx, rest, getenv, stdout, stderr, false)
	case "revoke":
		return revokeKey(ctx, rest, getenv, stdout, stderr)
	case "reset-link":
		return resetLink(ctx, rest, getenv, stdout, stderr)
	case "create-root-key":
		return createRootKey(ctx, rest, getenv, stdout, stderr)
	case "revoke-root-key":
		return revokeRootKey(ctx, rest, getenv, stdout, stderr)
	}
	return createUser(ctx, rest, getenv, stdin, stdout, stderr)
}

// operatorUsage is the usage of promote (true) or demote (false).
func operatorUsage(promote bool) string {
	if promote {
		return `Usage: keyhold admin promote --email E

Makes an existing account an operator: on its next request it sees the
operator console at /admin. This is how to become an operator after
signing up in the browser. Audited, without an actor (the command line).

Flags:
  --email E    the account's email address (required)
  -h, --help   print this help

Environment:
` + envDatabase + envLog + `
Example:
  keyhold admin promote --email ops@example.com
`
	}
	return `Usage: keyhold admin demote --email E

Takes an account's operator role away: on its next request the console
at /admin answers 404 to it. It may remove the last operator (promote
gives the role back); the console refuses that. Audited, without an actor
(the command line).

Flags:
  --email E    the account's email address (required)
  -h, --help   print this help

Environment:
` + envDatabase + envLog + `
Example:
  keyhold admin demote --email former-ops@example.com
`
}

// setOperator is keyhold admin promote (operator true) and demote.
func setOperator(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, operator bool) error {
	usage, verb := operatorUsage(operator), "promote"
	if !operator {
		verb = "demote"
	}
	addr, err := accountFlag(verb, usage, args, stdout, stderr)
	if err != nil {
		return err
	}
	app, err := openApp(ctx, getenv, stderr, appNeeds{secret: true})
	if err != nil {
		return err
	}
	defer app.db.Close()
	svc, err := auth.NewService(auth.Config{Store: app.db, Secret: app.secret})
	if err != nil {
		return err
	}
	a, err := svc.UserByEmail(ctx, addr)
	if keyhold.ErrorCode(err) == keyhold.ENOTFOUND {
		return fmt.Errorf("no user has the email %s; nothing was changed (sign up first, or keyhold admin create-user)", addr)
	}
	if err != nil {
		return fmt.Errorf("find the user: %w", err)
	}
	// No actor: the command line has the database, not a session.
	changed, err := svc.SetOperator(ctx, audit.Actor{}, a.ID, operator)
	if err != nil {
		return fmt.Errorf("%s: %w", verb, err)
	}
	switch {
	case !changed && operator:
		fmt.Fprintf(stdout, "%s is already an operator; nothing was changed\n", a.Email)
	case !changed:
		fmt.Fprintf(stdout, "%s is not an operator; nothing was changed\n", a.Email)
	case operator:
		fmt.Fprintf(stdout, "%s is now an operator: the console is at /admin\n", a.Email)
	default:
		fmt.Fprintf(stdout, "%s is no longer an operator\n", a.Email)
	}
	return nil
}

// createUser is keyhold admin create-user. The command line and the
// password are checked before the database is opened.
func createUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("create-user")
	email := fs.String("email", "", "")
	fromStdin := fs.Bool("password-stdin", false, "")
	isAdmin := fs.Bool("admin", false, "")
	if err := parseFlags(fs, args, createUserUsage, stdout, stderr); err != nil {
		return err
	}
	switch {
	case *email == "" && !*fromStdin:
		return usageError(stderr, createUserUsage, "--email and --password-stdin are required")
	case *email == "":
		return usageError(stderr, createUserUsage, "--email is required")
	case !*fromStdin:
		return usageError(stderr, createUserUsage, "--password-stdin is required: the password is read from standard input")
	}
	addr, err := auth.NormalizeEmail(*email)
	if err != nil {
		// The service's messages are written for the sign-up form; keep
		// the ones that say something the terminal needs (too long, an
		// invisible character) and say the rest in terminal terms.
		msg := keyhold.ErrorMessage(err)
		if strings.HasPrefix(msg, "Enter ") {
			return fmt.Errorf("--email %q is not an email address", *email)
		}
		return fmt.Errorf("--email %q: %s", *email, msg)
	}
	// MaxPasswordLen counts characters of up to 4 bytes; a line cut short
	// here is still too long, and refused.
	line, err := bufio.NewReader(io.LimitReader(stdin, 4*auth.MaxPasswordLen+2)).ReadString('\n')
	if err != nil && err != io.EOF {
		return fmt.Errorf("read the password from standard input: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	switch n := len(password); {
	case n < auth.MinPasswordLen:
		return fmt.Errorf("the password on standard input must have at least %d characters (it has %d)", auth.MinPasswordLen, n)
	case n > auth.MaxPasswordLen:
		return fmt.Errorf("the password on standard input must have at most %d characters", auth.MaxPasswordLen)
	}

	a, err := openApp(ctx, getenv, stderr, appNeeds{secret: true})
	if err != nil {
		return err
	}
	defer a.Close()
	svc, err := auth.NewService(auth.Config{Store: a.db, Secret: a.secret})
	if err != nil {
		return err
	}
	acct, err := svc.Signup(ctx, addr, password, *isAdmin)
	if err != nil {
		return signupError(err, addr)
	}
	role := "account"
	if acct.IsAdmin {
		role = "admin account"
	}
	fmt.Fprintf(stdout, "created %s %s (id %s)\n", role, acct.Email, acct.ID)
	return nil
}

// signupError says in terminal words what the sign-up service's errors,
// written for the sign-up page, mean to the operator at the shell.
func signupError(err error, email string) error {
	switch {
	case errors.Is(err, auth.ErrEmailTaken):
		return fmt.Errorf("an account with the email %s already exists; nothing was changed. To make it an operator: keyhold admin promote --email %s", email, email)
	case keyhold.ErrorCode(err) == keyhold.EINTERNAL:
		return fmt.Errorf("create account: %w", err)
	default:
		// Input is checked above, so this is a rule added to the
		// service later: its message, without the code.
		return errors.New(keyhold.ErrorMessage(err))
	}
}
