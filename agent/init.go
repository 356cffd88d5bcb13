package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/understudy/understudy/pkg/command"
	"github.com/understudy/understudy/pkg/store"
)

func newInitCmd() *cobra.Command {
	var (
		sf   storeFlags
		comp string
	)
	cmd := &cobra.Command{
		Use:   "init --store DIR [--key-file F] [--compression auto|zstd|s2|off]",
		Short: "Create a snapshot store (encrypted with --key-file; a missing key file is created)",
		Args:  command.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sf.dir == "" {
				return command.Usagef("--store is required")
			}
			c, err := store.ParseCompression(comp)
			if err != nil {
				return command.Usage(err)
			}
			key, created, err := loadOrCreateKey(sf.keyFile)
			if err != nil {
				return err
			}
			if err := store.Init(sf.dir, store.InitOptions{Key: key, Compression: c}); err != nil {
				return classify(err)
			}
			out := cmd.OutOrStdout()
			if sf.json {
				return printJSON(out, map[string]any{"store": sf.dir, "encrypted": key != nil, "compression": c, "key_file_created": created})
			}
			fmt.Fprintf(out, "created store %s", sf.dir)
			if key != nil {
				fmt.Fprintf(out, " (encrypted; keep %s safe: without it nothing can be restored)", sf.keyFile)
			}
			fmt.Fprintln(out)
			return nil
		},
	}
	sf.register(cmd, true)
	cmd.Flags().StringVar(&comp, "compression", string(store.DefaultCompression), compressionUsage)
	return cmd
}

// compressionUsage describes the --compression flag of init and backup.
const compressionUsage = "chunk compression: auto (S2 for binary data, zstd for text), zstd (smallest store), s2 (least CPU) or off"

// loadOrCreateKey reads the key file, creating it with a fresh key when it
// does not exist yet. An empty path means no encryption.
func loadOrCreateKey(path string) (key []byte, created bool, err error) {
	if path == "" {
		return nil, false, nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		k, err := store.NewKeyFile(path)
		return k, err == nil, err
	}
	k, err := store.LoadKeyFile(path)
	if err != nil {
		return nil, false, command.Usage(err)
	}
	return k, false, nil
}
