package main

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/understudy/understudy/agent/hostagent"
	"github.com/understudy/understudy/pkg/sdnotify"
)

func newRunCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Run the agent daemon",
		Args:  argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" {
				return usagef("run: --config is required")
			}
			cfg, err := hostagent.LoadConfig(configPath)
			if err != nil {
				return usageError{err}
			}
			var lvl slog.Level
			lvl.UnmarshalText([]byte(cfg.LogLevel)) // checked by Validate
			logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
			a, err := hostagent.New(cfg, logger, hostagent.WithVersion(version))
			if err != nil {
				return err
			}
			return sdnotify.Supervise(cmd.Context(), logger, a.Run)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "path to the agent's YAML configuration")
	return cmd
}
