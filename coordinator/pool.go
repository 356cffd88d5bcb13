package main

import "github.com/spf13/cobra"

func newPoolCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pool",
		Short: "Standby pools: policies, allocation, and the dynamic standby simulator",
		Args:  argsUsage(cobra.NoArgs),
	}
	cmd.AddCommand(newPoolSimulateCmd(), newPoolGetCmd(), newPoolSetCmd(), newAllocateCmd(), newPoolDeallocateCmd())
	return cmd
}
