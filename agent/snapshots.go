package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/understudy/understudy/pkg/command"
	"github.com/understudy/understudy/pkg/snapshot"
)

func newSnapshotsCmd() *cobra.Command {
	var (
		sf      storeFlags
		dataset string
	)
	cmd := &cobra.Command{
		Use:   "snapshots --store DIR [--dataset NAME]",
		Short: "List the snapshots in a local store, oldest first",
		Args:  command.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := sf.open()
			if err != nil {
				return err
			}
			defer st.Close()
			recs, err := snapshot.List(cmd.Context(), st, dataset)
			if err != nil && recs == nil {
				return err
			}
			out := cmd.OutOrStdout()
			if sf.json {
				if recs == nil {
					recs = []*snapshot.Record{}
				}
				if perr := printJSON(out, recs); perr != nil {
					return perr
				}
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTIME\tDATASET\tHOST\tCLASS\tFILES\tSIZE\tADDED\tTAGS")
			for _, r := range recs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", snapshot.ShortID(r.ID),
					r.Time.Local().Format("2006-01-02 15:04:05"), r.Dataset, r.Host, r.Class,
					r.Stats.Files, humanBytes(r.Stats.Bytes), humanBytes(r.Stats.BytesAdded), strings.Join(r.Tags, ","))
			}
			if ferr := tw.Flush(); ferr != nil {
				return ferr
			}
			return err
		},
	}
	sf.register(cmd, true)
	cmd.Flags().StringVar(&dataset, "dataset", "", "only this dataset")
	return cmd
}
