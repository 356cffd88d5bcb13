// Command understudy-agent runs the Understudy host agent daemon and the
// standalone backup commands that work on a local store.
//
// The main package only parses flags, loads configuration, sets up logging and
// calls into agent/hostagent or the backup packages. One file per subcommand.
package main

import (
	"github.com/spf13/cobra"

	"github.com/understudy/understudy/pkg/command"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd() *cobra.Command {
	root := command.Root("understudy-agent", "Understudy agent: snapshots, mirroring, health checks and failover orders for one host", version)
	root.AddCommand(
		newRunCmd(),
		newInitCmd(),
		newBackupCmd(),
		newRestoreCmd(),
		newSnapshotsCmd(),
		newVerifyCmd(),
		newForgetCmd(),
		newDrillCmd(),
	)
	return root
}

func main() { command.Main(newRootCmd()) }
