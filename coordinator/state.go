package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/understudy/understudy/pkg/atomicfile"
	"github.com/understudy/understudy/pkg/command"
)

func newStateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Save or restore the whole catalogue",
		Args:  command.ArgsUsage(cobra.NoArgs),
	}
	var sf adminFlags
	save := &cobra.Command{
		Use:   "save FILE",
		Short: "Save the catalogue, as confirmed by the leader, to FILE",
		Args:  command.ArgsUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sf.client()
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := c.SaveState(cmd.Context(), &buf); err != nil {
				return err
			}
			if err := atomicfile.Write(args[0], buf.Bytes(), ".state-"); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "saved %d bytes to %s\n", buf.Len(), args[0])
			return nil
		},
	}
	sf.register(save, false)
	var rf adminFlags
	restore := &cobra.Command{
		Use:   "restore FILE",
		Short: "Replace the whole catalogue with one saved by state save (admin token)",
		Args:  command.ArgsUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return command.Usage(err)
			}
			if !json.Valid(b) {
				return command.Usagef("%s is not a saved state (not JSON)", args[0])
			}
			c, err := rf.client()
			if err != nil {
				return err
			}
			if err := c.RestoreState(cmd.Context(), b); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored %s\n", args[0])
			return nil
		},
	}
	rf.register(restore, false)
	cmd.AddCommand(save, restore)
	return cmd
}
