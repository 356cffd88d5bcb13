package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/understudy/understudy/pkg/command"
	"github.com/understudy/understudy/pkg/gossip"
)

func newKeygenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "Print a new random gossip encryption key for the encrypt setting",
		Args:  command.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := gossip.GenerateKey()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), k)
			return nil
		},
	}
}
