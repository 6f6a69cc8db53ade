package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/keyhold/keyhold/internal/tokens"
)

const tokensUsage = `Usage: keyhold tokens COMMAND

The signing keys of POST /v1/tokens.

Commands:
  keyhold tokens rotate
      publish the next signing key now (it signs 6 minutes later)

Flags:
  -h, --help   print this help

Run "keyhold tokens rotate --help" for its environment.
`

const rotateUsage = `Usage: keyhold tokens rotate

Makes the next signing key for the tokens of POST /v1/tokens (a key is also
made on first need, and rotated every 30 days by the server). The new key
is published in /.well-known/jwks.json at once and signs from 6 minutes
later, when every JWKS cached under its max-age (5 minutes) and every
running instance (re-reading every 30 seconds) has it, so no verifier meets
a token of a key it does not know. The key it replaces signs until then and
stays published for 30 minutes more, twice the longest token lifetime, so
tokens it signed keep verifying until they expire. It prints the new key's
id (kid) on stdout, and when it starts signing on stderr.

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
	r, err := svc.Rotate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, r.KID)
	fmt.Fprintf(stderr, "published now; signs from %s\n", r.ActiveAt.UTC().Format(time.RFC3339))
	return nil
}
