// Command keyhold runs the Keyhold developer portal and API-key verifier,
// and its administrative commands. main only wires signals; everything
// else happens in run, which the end-to-end tests call directly.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "keyhold:", err)
		}
		os.Exit(1)
	}
}

// errUsage means the usage text has already been printed.
var errUsage = errors.New("usage")

const usage = `Keyhold: API keys, verification and billing for your API.

Usage:
  keyhold [serve]                 run the portal and /v1/verify (the default)
  keyhold migrate                 apply pending database migrations and exit
  keyhold admin create-user --email E --password-stdin [--admin]
                                  create an account (reads the password from stdin)
  keyhold stripe reconcile        re-read every subscription from Stripe and repair local state
  keyhold version                 print the version
  keyhold help                    print this help

Configuration is read from the environment (KEYHOLD_*, STRIPE_*); see README.md.
`

// run executes one keyhold command. It returns when the command is done, or
// for serve when ctx is cancelled and the server has shut down.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, getenv, stdout, stderr)
	case "admin":
		return admin(ctx, args, getenv, stdin, stdout, stderr)
	case "stripe":
		return stripeCmd(ctx, args, getenv, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "keyhold", version())
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "keyhold: unknown command %q\n\n%s", cmd, usage)
		return errUsage
	}
}
