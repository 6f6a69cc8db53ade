package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/config"
	"github.com/keyhold/keyhold/internal/keyhold"
)

// admin runs operator commands: today, create-user.
func admin(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create-user" {
		fmt.Fprint(stderr, "keyhold: usage: keyhold admin create-user --email E --password-stdin [--admin]\n")
		return errUsage
	}
	fs := flag.NewFlagSet("create-user", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "the account's email")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input (required)")
	isAdmin := fs.Bool("admin", false, "make the account an operator")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	if *email == "" || !*fromStdin {
		fmt.Fprint(stderr, "keyhold: --email and --password-stdin are required\n")
		return errUsage
	}
	// MaxPasswordLen counts characters of up to 4 bytes; a line cut short
	// here is still too long, and refused.
	line, err := bufio.NewReader(io.LimitReader(stdin, 4*auth.MaxPasswordLen+2)).ReadString('\n')
	if err != nil && err != io.EOF {
		return fmt.Errorf("read password: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")

	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	_, db, err := openStore(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	sec, err := secret(ctx, cfg, db)
	if err != nil {
		return err
	}
	svc, err := auth.NewService(auth.Config{Store: db, Secret: sec})
	if err != nil {
		return err
	}
	a, err := svc.Signup(ctx, *email, password, *isAdmin)
	if err != nil {
		if code := keyhold.ErrorCode(err); code != keyhold.EINTERNAL {
			return fmt.Errorf("%s", keyhold.ErrorMessage(err))
		}
		return err
	}
	role := "account"
	if a.IsAdmin {
		role = "admin account"
	}
	fmt.Fprintf(stdout, "created %s %s (id %s)\n", role, a.Email, a.ID)
	return nil
}
