package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/understudy/understudy/agent/internal/prune"
	"github.com/understudy/understudy/pkg/command"
	"github.com/understudy/understudy/pkg/snapshot"
)

func newForgetCmd() *cobra.Command {
	var (
		sf   storeFlags
		opts prune.Options
	)
	cmd := &cobra.Command{
		Use:   "forget --store DIR --keep-last N --keep-hourly N --keep-daily N --keep-weekly N --keep-monthly N --keep-yearly N [--dry-run] [--prune]",
		Short: "Remove the snapshots a retention policy does not keep, and with --prune the data only they used",
		Args:  command.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.Policy.Validate(); err != nil {
				return command.Usage(err)
			}
			st, err := sf.open()
			if err != nil {
				return err
			}
			defer st.Close()
			limitMemory()
			opts.Logger = newCLILogger()
			res, err := prune.Forget(cmd.Context(), st, opts)
			if err != nil {
				return classify(err)
			}
			out := cmd.OutOrStdout()
			if sf.json {
				return printJSON(out, res)
			}
			verb := "removed"
			if opts.DryRun {
				verb = "would remove"
			}
			for _, g := range res.Groups {
				fmt.Fprintf(out, "dataset %s, host %s:\n", g.Dataset, g.Host)
				for _, d := range g.Decisions {
					what := "keep   "
					if !d.Keep {
						what = "forget "
					}
					fmt.Fprintf(out, "  %s %s  %s  %s\n", what, snapshot.ShortID(d.ID), d.Time.Local().Format("2006-01-02 15:04:05"), strings.Join(d.Reasons, ","))
				}
			}
			fmt.Fprintf(out, "%d snapshots kept, %s %d\n", res.Kept, verb, res.Removed)
			if p := res.Prune; p != nil {
				fmt.Fprintf(out, "prune: %d of %d chunks unused (%s); %d packs deleted, %d repacked (%d chunks moved); %s %s\n",
					p.ChunksUnused, p.ChunksTotal, humanBytes(p.BytesUnused), p.PacksDeleted, p.PacksRepacked, p.ChunksMoved,
					map[bool]string{true: "would free", false: "freed"}[opts.DryRun], humanBytes(p.BytesFreed))
			}
			return nil
		},
	}
	sf.register(cmd, true)
	f := cmd.Flags()
	f.IntVar(&opts.Policy.Last, "keep-last", 0, "keep the N newest snapshots")
	f.IntVar(&opts.Policy.Hourly, "keep-hourly", 0, "keep the newest snapshot of each of the last N hours that have one")
	f.IntVar(&opts.Policy.Daily, "keep-daily", 0, "likewise for days")
	f.IntVar(&opts.Policy.Weekly, "keep-weekly", 0, "likewise for ISO weeks")
	f.IntVar(&opts.Policy.Monthly, "keep-monthly", 0, "likewise for months")
	f.IntVar(&opts.Policy.Yearly, "keep-yearly", 0, "likewise for years")
	f.StringVar(&opts.Dataset, "dataset", "", "only this dataset")
	f.BoolVar(&opts.DryRun, "dry-run", false, "show what would be removed, change nothing")
	f.BoolVar(&opts.Prune, "prune", false, "also remove data no remaining snapshot uses")
	f.BoolVar(&opts.WaitLock, "wait-lock", false, "wait for a running backup instead of failing")
	return cmd
}
