package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/understudy/understudy/pkg/command"
)

// ago renders a Unix-millisecond time as an age, "-" for never.
func ago(ms int64, now time.Time) string {
	if ms == 0 {
		return "-"
	}
	return now.Sub(time.UnixMilli(ms)).Round(time.Second).String() + " ago"
}

func newDatasetsCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{
		Use:   "datasets",
		Short: "List datasets with the freshness of every copy: snapshot, mirror, archive, drill",
		Args:  command.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			ds, err := c.Datasets(cmd.Context(), f.readOpts()...)
			if err != nil {
				return err
			}
			now := time.Now()
			return f.output(cmd.OutOrStdout(), ds, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "DATASET\tHOST\tREPLICA\tSERVICE\tSNAPSHOT\tMIRROR\tLAG\tARCHIVE\tDRILL\tSTATUS")
				for _, d := range ds {
					status := "ok"
					switch {
					case d.LastError != "":
						status = "error: " + d.LastError
					case d.Stale:
						status = "stale"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Dataset, d.Host, d.Replica, dash(d.Service),
						ago(d.LastSnapshot, now), ago(d.LastMirror, now), time.Duration(d.LagMillis)*time.Millisecond,
						ago(d.LastArchive, now), ago(d.LastDrill, now), status)
				}
			})
		},
	}
	f.register(cmd, true)
	f.registerConsistent(cmd)
	return cmd
}

func newSnapshotsCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{
		Use:   "snapshots",
		Short: "List the latest snapshot of every dataset copy as reported by the agents",
		Args:  command.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			ds, err := c.Datasets(cmd.Context(), f.readOpts()...)
			if err != nil {
				return err
			}
			return f.output(cmd.OutOrStdout(), ds, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "DATASET\tHOST\tREPLICA\tSNAPSHOT\tTIME")
				for _, d := range ds {
					when := "-"
					if d.LastSnapshot != 0 {
						when = time.UnixMilli(d.LastSnapshot).UTC().Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Dataset, d.Host, d.Replica, dash(d.LastSnapshotID), when)
				}
			})
		},
	}
	f.register(cmd, true)
	f.registerConsistent(cmd)
	return cmd
}
