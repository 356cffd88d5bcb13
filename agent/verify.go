package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/understudy/understudy/agent/internal/verify"
	"github.com/understudy/understudy/pkg/command"
)

func newVerifyCmd() *cobra.Command {
	var (
		sf     storeFlags
		subset string
	)
	cmd := &cobra.Command{
		Use:   "verify --store DIR [--read-data-subset 10%]",
		Short: "Check a store: index against packs, chunk hashes, and which snapshots and files are damaged",
		Args:  command.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			frac, err := parseFraction(subset)
			if err != nil {
				return err
			}
			st, err := sf.open()
			if err != nil {
				return err
			}
			defer st.Close()
			limitMemory()
			rep, err := verify.Run(cmd.Context(), st, verify.Options{ReadFraction: frac})
			if rep == nil {
				return err
			}
			out := cmd.OutOrStdout()
			if sf.json {
				if perr := printJSON(out, rep); perr != nil {
					return perr
				}
				return err
			}
			fmt.Fprintf(out, "%d packs (%d read, %d chunks re-hashed), %d snapshots\n", rep.Packs, rep.PacksRead, rep.ChunksRead, rep.Snapshots)
			if rep.IndexError != "" {
				fmt.Fprintf(out, "index damaged: %s\n  (checked against the pack trailers; the next backup or prune rebuilds the index)\n", rep.IndexError)
			}
			for _, p := range rep.DamagedPacks {
				fmt.Fprintf(out, "damaged pack %s: %s (%d chunks lost)\n", p.Pack, p.Error, p.Chunks)
			}
			if rep.MissingChunks > 0 {
				fmt.Fprintf(out, "%d chunks referenced by snapshots are missing from the store\n", rep.MissingChunks)
			}
			for _, s := range rep.DamagedSnapshots {
				if s.Error != "" {
					fmt.Fprintf(out, "damaged snapshot %s (dataset %s): %s\n", s.ID, s.Dataset, s.Error)
					continue
				}
				fmt.Fprintf(out, "damaged snapshot %s (dataset %s): %d files affected\n", s.ID, s.Dataset, len(s.Files))
				for _, f := range s.Files {
					fmt.Fprintf(out, "  %s\n", f)
				}
			}
			if rep.UnreferencedPacks > 0 {
				fmt.Fprintf(out, "%d pack files are not indexed (left by an interrupted backup; harmless)\n", rep.UnreferencedPacks)
			}
			if errors.Is(err, verify.ErrDamaged) {
				return err
			}
			if err == nil {
				fmt.Fprintln(out, "no damage found")
			}
			return err
		},
	}
	sf.register(cmd, true)
	cmd.Flags().StringVar(&subset, "read-data-subset", "", "re-read and re-hash this share of the packs: a percentage (10%) or a fraction (0.1); default all")
	return cmd
}

// parseFraction reads --read-data-subset; empty means everything.
func parseFraction(s string) (float64, error) {
	if s == "" {
		return 1, nil
	}
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(t, "%"), 64)
	if err == nil && pct {
		v /= 100
	}
	if err != nil || v < 0 || v > 1 {
		return 0, command.Usagef("--read-data-subset %q: want a percentage between 0%% and 100%% or a fraction between 0 and 1", s)
	}
	return v, nil
}
