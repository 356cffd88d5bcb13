package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/understudy/understudy/agent/internal/backup"
	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/command"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
)

func newBackupCmd() *cobra.Command {
	var (
		sf       storeFlags
		opts     backup.Options
		class    string
		waitLock bool
	)
	cmd := &cobra.Command{
		Use:   "backup --store DIR --dataset NAME [--class CLASS] [--key-file F] PATH",
		Short: "Snapshot a dataset directory into a local store (created on first use)",
		Args:  command.ArgsUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if sf.dir == "" {
				return command.Usagef("--store is required")
			}
			if opts.Dataset == "" {
				return command.Usagef("--dataset is required")
			}
			opts.Class = chunk.Class(class)
			if err := opts.Class.Validate(); err != nil {
				return command.Usage(err)
			}
			if fi, err := os.Stat(args[0]); err != nil || !fi.IsDir() {
				return command.Usagef("%s is not a directory", args[0])
			}
			if _, err := os.Stat(filepath.Join(sf.dir, "config.json")); err != nil {
				key, _, err := loadOrCreateKey(sf.keyFile)
				if err != nil {
					return err
				}
				if err := store.Init(sf.dir, store.InitOptions{Key: key, Compression: store.Compression(sf.compression)}); err != nil && !errors.Is(err, store.ErrExists) {
					return classify(err)
				}
			}
			st, err := sf.open()
			if err != nil {
				return err
			}
			defer st.Close()
			limitMemory()
			opts.WaitLock = waitLock
			opts.Logger = newCLILogger()
			out := os.Stdout
			if isTerminal(out) && !sf.json {
				opts.Progress = &backup.Progress{}
			}
			var prog *progressLine
			if p := opts.Progress; p != nil {
				prog = startProgress(out, "backup", func() (int64, int64, int64, int64) {
					return p.FilesDone.Load(), p.FilesTotal.Load(), p.BytesDone.Load(), p.BytesTotal.Load()
				})
			}
			rec, err := backup.Run(cmd.Context(), st, args[0], opts)
			if prog != nil {
				prog.done()
			}
			if err != nil {
				return classify(err)
			}
			return printBackup(cmd, sf.json, rec)
		},
	}
	sf.register(cmd, true)
	f := cmd.Flags()
	f.StringVar(&opts.Dataset, "dataset", "", "dataset name (required)")
	f.StringVar(&class, "class", string(chunk.ClassUser), "data class: user, state, transactional or log")
	f.StringVar(&opts.Host, "host", "", "host name recorded in the snapshot (default: this host)")
	f.StringSliceVar(&opts.Tags, "tag", nil, "tag to record (repeatable)")
	f.StringVar(&opts.Parent, "parent", "", "snapshot to compare with (default: the latest of the dataset)")
	f.BoolVar(&opts.NoParent, "force", false, "read every file, ignoring the parent snapshot")
	f.BoolVar(&waitLock, "wait-lock", false, "wait for another writer instead of failing")
	f.StringVar(&sf.compression, "compression", "", compressionUsage+" (default: the store's setting; auto for a new store)")
	return cmd
}

func printBackup(cmd *cobra.Command, asJSON bool, rec *snapshot.Record) error {
	out := cmd.OutOrStdout()
	if asJSON {
		return printJSON(out, rec)
	}
	s := rec.Stats
	fmt.Fprintf(out, "snapshot %s saved (dataset %s, %s)\n", snapshot.ShortID(rec.ID), rec.Dataset, rec.Time.Local().Format("2006-01-02 15:04:05"))
	fmt.Fprintf(out, "files: %d (%d unchanged, %d read), dirs: %d, symlinks: %d, hard links: %d\n",
		s.Files, s.FilesUnchanged, s.FilesRead, s.Dirs, s.Symlinks, s.Hardlinks)
	rate := 0.0
	if s.Seconds > 0 {
		rate = float64(s.BytesRead) / s.Seconds
	}
	fmt.Fprintf(out, "data: %s total, %s read, %s new, %s added to the store, %.1fs (%s/s)\n",
		humanBytes(s.Bytes), humanBytes(s.BytesRead), humanBytes(s.BytesNew), humanBytes(s.BytesAdded), s.Seconds, humanBytes(int64(rate)))
	return nil
}
