package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// errUsage means the command line was refused and the usage has already
// been printed to stderr: main exits 2 without another message.
var errUsage = errors.New("usage")

// errHelp means the usage was printed to stdout because it was asked for;
// run turns it into success.
var errHelp = errors.New("help")

// newFlags is an empty flag set for a command whose usage is written by
// hand: flag's own output (Go's "-flagname" dump) is never printed.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses a command's arguments, none of which may be
// positional. -h and --help print usage to stdout and return errHelp;
// anything else it cannot take is refused through usageError. Commands
// call it before they read configuration or open the database, so a
// mistyped command line changes nothing.
func parseFlags(fs *flag.FlagSet, args []string, usage string, stdout, stderr io.Writer) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return errHelp
		}
		return usageError(stderr, usage, "%s", flagProblem(err))
	}
	if fs.NArg() > 0 {
		return usageError(stderr, usage, "unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// flagProblem rewords the flag package's errors in the --double-dash
// spelling the usage texts use.
func flagProblem(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "unknown flag --" + strings.TrimPrefix(name, "-")
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return "--" + strings.TrimPrefix(name, "-") + " needs a value"
	}
	return msg
}

// usageError prints what is wrong with the command line and the command's
// usage to stderr, and returns errUsage.
func usageError(stderr io.Writer, usage, format string, args ...any) error {
	fmt.Fprintf(stderr, "keyhold: %s\n\n%s", fmt.Sprintf(format, args...), usage)
	return errUsage
}

// subcommand picks the subcommand of a command group (admin, stripe) from
// args: it returns the subcommand's name and its arguments, or errHelp or
// errUsage after printing the group's usage.
func subcommand(args []string, names []string, usage string, stdout, stderr io.Writer) (string, []string, error) {
	if len(args) == 0 {
		return "", nil, usageError(stderr, usage, "missing command: one of %s", strings.Join(names, ", "))
	}
	switch a := args[0]; {
	case a == "-h" || a == "--help":
		fmt.Fprint(stdout, usage)
		return "", nil, errHelp
	case len(a) > 1 && a[0] == '-':
		return "", nil, usageError(stderr, usage, "unknown flag %s", a)
	}
	for _, n := range names {
		if args[0] == n {
			return n, args[1:], nil
		}
	}
	return "", nil, usageError(stderr, usage, "unknown command %q", args[0])
}
