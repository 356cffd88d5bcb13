package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/understudy/understudy/agent/internal/restore"
	"github.com/understudy/understudy/pkg/command"
	"github.com/understudy/understudy/pkg/snapshot"
)

func newDrillCmd() *cobra.Command {
	var (
		sf               storeFlags
		dataset, scratch string
	)
	cmd := &cobra.Command{
		Use:   "drill --store DIR --dataset NAME",
		Short: "Restore-test the latest snapshot into a scratch directory, check every byte, and print the recovery time",
		Args:  command.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataset == "" {
				return command.Usagef("--dataset is required")
			}
			st, err := sf.open()
			if err != nil {
				return err
			}
			defer st.Close()
			limitMemory()
			res, err := restore.Drill(cmd.Context(), st, dataset, scratch, restore.Options{Logger: newCLILogger()})
			if err != nil {
				return classify(err)
			}
			out := cmd.OutOrStdout()
			if sf.json {
				return printJSON(out, map[string]any{
					"snapshot": res.Snapshot, "dataset": res.Dataset, "files": res.Files, "bytes": res.Bytes,
					"rto_seconds": res.RTO.Seconds(), "verify_seconds": res.Verify.Seconds(),
				})
			}
			fmt.Fprintf(out, "drill of snapshot %s (dataset %s): %d files, %s restored and verified\nRTO %.2fs (verify %.2fs)\n",
				snapshot.ShortID(res.Snapshot), res.Dataset, res.Files, humanBytes(res.Bytes), res.RTO.Seconds(), res.Verify.Seconds())
			return nil
		},
	}
	sf.register(cmd, true)
	cmd.Flags().StringVar(&dataset, "dataset", "", "dataset name (required)")
	cmd.Flags().StringVar(&scratch, "scratch", "", "directory for the scratch copy (default: the system temp dir)")
	return cmd
}
