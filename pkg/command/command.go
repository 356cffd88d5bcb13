package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// UsageError marks an error caused by what the user typed or wrote in a
// configuration file; it exits with status 2.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usage marks err as a usage error.
func Usage(err error) error { return UsageError{Err: err} }

// Usagef returns a formatted UsageError.
func Usagef(format string, args ...any) error {
	return UsageError{Err: fmt.Errorf(format, args...)}
}

// ArgsUsage wraps a cobra positional-argument validator so that a wrong
// argument count is a usage error.
func ArgsUsage(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return UsageError{Err: err}
		}
		return nil
	}
}

// ExitCode maps an error to the process exit status: 2 for usage and
// configuration errors (cobra's unknown commands included), 1 for
// everything else.
func ExitCode(err error) int {
	var ue UsageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue), strings.HasPrefix(err.Error(), "unknown command"):
		return 2
	default:
		return 1
	}
}

// Root configures a root command the way both programs want it: errors
// and usage printed by Main, flag errors are usage errors.
func Root(use, short, version string) *cobra.Command {
	root := &cobra.Command{
		Use:           use,
		Short:         short,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return UsageError{Err: err} })
	return root
}

// Main runs root with a context cancelled by SIGINT or SIGTERM, prints an
// error as one line prefixed with root's name, and exits with ExitCode.
func Main(root *cobra.Command) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", root.Name(), strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	os.Exit(ExitCode(err))
}
