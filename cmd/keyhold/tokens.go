package main

import (
	"context"
	"fmt"
	"io"

	"github.com/keyhold/keyhold/internal/tokens"
)

const tokensUsage = `Usage: keyhold tokens COMMAND

The signing keys of POST /v1/tokens.

Commands:
  keyhold tokens rotate
      make a new signing key now

Flags:
  -h, --help   print this help

Run "keyhold tokens rotate --help" for its environment.
`

const rotateUsage = `Usage: keyhold tokens rotate

Makes a new current signing key for the tokens of POST /v1/tokens (a key is
also made on first need, and rotated every 30 days by the server). The
previous key stays in /.well-known/jwks.json for 30 minutes, twice the
longest token lifetime, so tokens it signed keep verifying until they
expire. Running instances sign with the new key within 30 seconds. It
prints the new key's id (kid).

Flags:
  -h, --help   print this help

Environment:
  KEYHOLD_SECRET                as for keyhold serve: the signing keys are sealed under it
  KEYHOLD_BASE_URL              as for keyhold serve
` + envDatabase + envLog

// tokensCmd runs signing-key maintenance: today, rotate.
func tokensCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	_, rest, err := subcommand(args, []string{"rotate"}, tokensUsage, stdout, stderr)
	if err != nil {
		return err
	}
	if err := parseFlags(newFlags("rotate"), rest, rotateUsage, stdout, stderr); err != nil {
		return err
	}
	a, err := openApp(ctx, getenv, stderr, appNeeds{secret: true})
	if err != nil {
		return err
	}
	defer a.Close()
	svc, err := tokens.New(tokens.Config{Store: a.db, Secret: a.secret, Issuer: a.cfg.BaseURL.String(), Logger: a.log})
	if err != nil {
		return err
	}
	kid, err := svc.Rotate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, kid)
	return nil
}
