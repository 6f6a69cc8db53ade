// Command keyhold runs the Keyhold developer portal and API-key verifier,
// and its administrative commands. main only wires signals and the exit
// status; everything else happens in run, which the end-to-end tests call
// directly.
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
	// run in a closure, so that its deferred stop runs before os.Exit.
	err := func() error {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	}()
	if err != nil && !errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "keyhold:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode is the process status for run's result: 0 for success
// (including help that was asked for), 2 for a command line that was
// refused (the convention of flag and most Unix tools), 1 for a command
// that failed.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		return 1
	}
}

const usage = `Keyhold: API keys, verification and billing for your API.

Usage:
  keyhold [serve]                 run the portal and /v1/verify (the default)
  keyhold migrate                 apply pending database migrations and exit
  keyhold admin create-user --email E --password-stdin [--admin]
                                  create an account (reads the password from stdin)
  keyhold admin promote --email E make an account an operator (sees /admin)
  keyhold admin demote --email E  take an account's operator role away
  keyhold stripe reconcile        re-read every subscription from Stripe and repair local state
  keyhold tokens rotate           make a new signing key for POST /v1/tokens now
  keyhold version                 print the version
  keyhold help [COMMAND]          print this help, or a command's

Flags:
  -h, --help                      print this help
  -v, --version                   print the version

Configuration is read from the environment (KEYHOLD_*, STRIPE_*); run
"keyhold serve --help" for the variables, or see README.md.
`

const versionUsage = `Usage: keyhold version

Prints the version of this keyhold binary ("dev-" and the commit for a
build from a checkout) and exits.

Flags:
  -h, --help   print this help
`

const helpUsage = `Usage: keyhold help [COMMAND]

Prints the overview of keyhold's commands, or with COMMAND (for example
"keyhold help admin create-user") that command's usage, flags and
environment.

Flags:
  -h, --help   print this help
`

// run executes one keyhold command. It returns when the command is done, or
// for serve when ctx is cancelled and the server has shut down. Help that
// was asked for returns nil; a command line it refuses returns errUsage,
// after printing why and the usage to stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, getenv, stdin, stdout, stderr)
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return serve(ctx, nil, getenv, stdout, stderr)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, rest, getenv, stdout, stderr)
	case "admin":
		return admin(ctx, rest, getenv, stdin, stdout, stderr)
	case "stripe":
		return stripeCmd(ctx, rest, getenv, stdout, stderr)
	case "tokens":
		return tokensCmd(ctx, rest, getenv, stdout, stderr)
	case "version", "--version", "-v":
		if cmd == "version" {
			if err := parseFlags(newFlags("version"), rest, versionUsage, stdout, stderr); err != nil {
				return err
			}
		} else if len(rest) > 0 {
			return usageError(stderr, usage, "unexpected argument %q", rest[0])
		}
		fmt.Fprintln(stdout, "keyhold", version())
		return nil
	case "help", "--help", "-h":
		if cmd == "help" && len(rest) > 0 {
			if rest[0] == "-h" || rest[0] == "--help" {
				fmt.Fprint(stdout, helpUsage)
				return errHelp
			}
			// keyhold help X is keyhold X --help.
			return dispatch(ctx, append(rest[:len(rest):len(rest)], "--help"), getenv, stdin, stdout, stderr)
		}
		if len(rest) > 0 {
			return usageError(stderr, usage, "unexpected argument %q", rest[0])
		}
		fmt.Fprint(stdout, usage)
		return errHelp
	}
	if len(cmd) > 1 && cmd[0] == '-' {
		return usageError(stderr, usage, "unknown flag %s", cmd)
	}
	return usageError(stderr, usage, "unknown command %q", cmd)
}
