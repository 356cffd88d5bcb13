// Command understudy-coordinator runs a member of the Understudy coordinator
// cluster, a single-process dev environment, and the admin CLI.
//
// The main package only parses flags, loads configuration, sets up logging and
// calls into coordinator/server or pkg/api. One file per subcommand.
package main

import (
	"github.com/spf13/cobra"

	"github.com/understudy/understudy/pkg/command"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd() *cobra.Command {
	root := command.Root("understudy-coordinator", "Understudy coordinator: catalogue, failover DNS, login reroute and admin CLI", version)
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

func main() { command.Main(newRootCmd()) }
