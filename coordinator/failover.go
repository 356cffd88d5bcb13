package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/pkg/command"
)

func printPromotions(f *adminFlags, cmd *cobra.Command, ps []api.Promotion) error {
	return f.output(cmd.OutOrStdout(), ps, func(tw *tabwriter.Writer) {
		fmt.Fprintln(tw, "TIME\tSERVICE\tFROM\tTO\tEPOCH\tPLANNED\tREASON")
		for _, p := range ps {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%t\t%s\n", time.UnixMilli(p.At).UTC().Format(time.RFC3339),
				p.Service, dash(p.From), p.To, p.Epoch, p.Planned, p.Reason)
		}
	})
}

func newFailoverCmd() *cobra.Command {
	var f adminFlags
	var to string
	cmd := &cobra.Command{
		Use:   "failover SERVICE [--to HOST]",
		Short: "Planned switchover of a service to a standby (admin token)",
		Long: `Planned switchover: the primary stops and gives up its lease, then the
standby (the one named by --to, or the best one) starts on its copy of the
data. No acknowledged write is lost and the two never serve at once.`,
		Args: command.ArgsUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			p, err := c.Failover(cmd.Context(), args[0], to)
			if err != nil {
				return err
			}
			return printPromotions(&f, cmd, []api.Promotion{p})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "host to promote (default: the best standby)")
	f.register(cmd, true)
	return cmd
}

func newDrainCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{
		Use:   "drain HOST",
		Short: "Switch every service whose primary is HOST over to a standby (admin token)",
		Args:  command.ArgsUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			ps, err := c.Drain(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printPromotions(&f, cmd, ps)
		},
	}
	f.register(cmd, true)
	return cmd
}

func newFenceCmd() *cobra.Command {
	var f adminFlags
	var lift bool
	cmd := &cobra.Command{
		Use:   "fence HOST [--lift]",
		Short: "Fence a host: it serves nothing and its services fail over (admin token)",
		Args:  command.ArgsUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if err := c.Fence(cmd.Context(), args[0], !lift); err != nil {
				return err
			}
			verb := "fenced"
			if lift {
				verb = "unfenced"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", verb, args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&lift, "lift", false, "lift the fence instead")
	f.register(cmd, false)
	return cmd
}

func newPromotionsCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{
		Use:   "promotions",
		Short: "List the history of promotions with reasons",
		Args:  command.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			ps, err := c.Promotions(cmd.Context())
			if err != nil {
				return err
			}
			return printPromotions(&f, cmd, ps)
		},
	}
	f.register(cmd, true)
	return cmd
}
