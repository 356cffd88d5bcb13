package main

import "github.com/spf13/cobra"

func newPoolCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pool",
		Short: "Standby pools: simulate the dynamic standby controller",
		Args:  argsUsage(cobra.NoArgs),
	}
	cmd.AddCommand(newPoolSimulateCmd())
	return cmd
}
