package main

import (
	"github.com/spf13/cobra"

	"github.com/understudy/understudy/coordinator/server"
	"github.com/understudy/understudy/pkg/sdnotify"
)

func newServeCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run a coordinator cluster member",
		Args:  argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" {
				return usagef("serve: --config is required")
			}
			cfg, err := server.LoadConfig(configPath)
			if err != nil {
				return usageError{err}
			}
			logger, err := newLogger(cfg.LogLevel)
			if err != nil {
				return usageError{err}
			}
			s, err := server.New(cfg, logger, server.WithVersion(version))
			if err != nil {
				return err
			}
			return sdnotify.Supervise(cmd.Context(), logger, s.Run)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "path to the coordinator's YAML configuration")
	return cmd
}
