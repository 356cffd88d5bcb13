package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/understudy/understudy/agent/internal/restore"
	"github.com/understudy/understudy/pkg/command"
	"github.com/understudy/understudy/pkg/snapshot"
)

func newRestoreCmd() *cobra.Command {
	var (
		sf                  storeFlags
		dataset, id, at, to string
		opts                restore.Options
	)
	cmd := &cobra.Command{
		Use:   "restore --store DIR --dataset NAME [--snapshot ID | --at TIME] [--path SUBPATH] --to DIR",
		Short: "Restore a snapshot (the latest by default) into a directory, rewriting only what differs",
		Args:  command.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return command.Usagef("--to is required")
			}
			if dataset == "" && id == "" {
				return command.Usagef("--dataset is required")
			}
			if id != "" && at != "" {
				return command.Usagef("--snapshot and --at exclude each other")
			}
			var when time.Time
			if at != "" {
				var err error
				if when, err = parseTime(at); err != nil {
					return err
				}
			}
			st, err := sf.open()
			if err != nil {
				return err
			}
			defer st.Close()
			limitMemory()
			rec, err := restore.Select(cmd.Context(), st, dataset, id, when)
			if err != nil {
				return classify(err)
			}
			opts.Logger = newCLILogger()
			out := os.Stdout
			var prog *progressLine
			if isTerminal(out) && !sf.json {
				p := &restore.Progress{}
				opts.Progress = p
				prog = startProgress(out, "restore", func() (int64, int64, int64, int64) {
					return p.FilesDone.Load(), p.FilesTotal.Load(), p.BytesDone.Load(), p.BytesTotal.Load()
				})
			}
			res, err := restore.Run(cmd.Context(), st, rec, to, opts)
			if prog != nil {
				prog.done()
			}
			if res != nil {
				if perr := printRestore(cmd, sf.json, res); perr != nil {
					return perr
				}
			}
			if errors.Is(err, restore.ErrDamaged) {
				for _, d := range res.Damaged {
					fmt.Fprintf(os.Stderr, "understudy-agent: not restored: %s: %v\n", d.Path, d.Err)
				}
			}
			return classify(err)
		},
	}
	sf.register(cmd, true)
	f := cmd.Flags()
	f.StringVar(&dataset, "dataset", "", "dataset name")
	f.StringVar(&id, "snapshot", "", "snapshot ID or unique prefix")
	f.StringVar(&at, "at", "", "restore the latest snapshot taken at or before this time")
	f.StringVar(&opts.Path, "path", "", "restore only this file or directory of the snapshot")
	f.StringVar(&to, "to", "", "target directory (created if missing)")
	f.BoolVar(&opts.QuickCheck, "quick-check", false, "trust existing files whose size and mtime match instead of hashing them")
	return cmd
}

type restoreJSON struct {
	*restore.Result
	Damaged []damagedJSON `json:"damaged,omitempty"`
	Seconds float64       `json:"seconds"`
}

type damagedJSON struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

func printRestore(cmd *cobra.Command, asJSON bool, res *restore.Result) error {
	out := cmd.OutOrStdout()
	if asJSON {
		j := restoreJSON{Result: res, Seconds: res.Duration.Seconds()}
		for _, d := range res.Damaged {
			j.Damaged = append(j.Damaged, damagedJSON{Path: d.Path, Error: d.Err.Error()})
		}
		return printJSON(out, j)
	}
	rate := 0.0
	if s := res.Duration.Seconds(); s > 0 {
		rate = float64(res.Bytes) / s
	}
	fmt.Fprintf(out, "restored snapshot %s: %d files, %d dirs, %d symlinks, %d hard links, %s (%s written, %d unchanged files, %d entries removed) in %.1fs (%s/s)\n",
		snapshot.ShortID(res.Snapshot), res.Files, res.Dirs, res.Symlinks, res.Hardlinks, humanBytes(res.Bytes),
		humanBytes(res.BytesWritten), res.FilesUnchanged, res.Removed, res.Duration.Seconds(), humanBytes(int64(rate)))
	return nil
}
