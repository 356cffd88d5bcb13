package main

import (
	"github.com/spf13/cobra"

	"github.com/understudy/understudy/pkg/command"
)

func newPoolCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pool",
		Short: "Standby pools: policies, allocation, and the dynamic standby simulator",
		Args:  command.ArgsUsage(cobra.NoArgs),
	}
	cmd.AddCommand(newPoolSimulateCmd(), newPoolGetCmd(), newPoolSetCmd(), newAllocateCmd(), newPoolDeallocateCmd())
	return cmd
}
