// Command understudy-coordinator runs a member of the Understudy coordinator
// cluster, a single-process dev environment, and the admin CLI.
//
// The main package only parses flags, loads configuration, sets up logging and
// calls into coordinator/server or pkg/api. One file per subcommand.
package main

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

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// usageError marks errors caused by what the user typed or wrote in a config
// file; they exit with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// argsUsage wraps a cobra positional-argument validator so that a wrong
// argument count is a usage error.
func argsUsage(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "understudy-coordinator",
		Short:         "Understudy coordinator: catalogue, failover DNS, login reroute and admin CLI",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newServeCmd(),
		newDevCmd(),
		newMembersCmd(),
		newPeersCmd(),
		newHostsCmd(),
		newServicesCmd(),
		newDatasetsCmd(),
		newSnapshotsCmd(),
		newFailoverCmd(),
		newDrainCmd(),
		newFenceCmd(),
		newPromotionsCmd(),
		newStateCmd(),
		newKeygenCmd(),
		newPoolCmd(),
		newAllocateCmd(),
	)
	return root
}

// exitCode maps an error to the process exit status: 2 for usage and
// configuration errors, 1 for everything else.
func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue), strings.HasPrefix(err.Error(), "unknown command"):
		return 2
	default:
		return 1
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "understudy-coordinator: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	os.Exit(exitCode(err))
}
