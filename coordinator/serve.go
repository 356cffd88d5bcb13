package main

import (
	"context"
	"sync"

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
			logger, lv, err := newLogger(cfg.LogLevel)
			if err != nil {
				return usageError{err}
			}
			s, err := server.New(cfg, logger, server.WithVersion(version))
			if err != nil {
				return err
			}
			// The reload goroutine ends when Run returns (cancel runs
			// before wg.Wait: defers run last-in first-out).
			var wg sync.WaitGroup
			defer wg.Wait()
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			wg.Go(func() {
				reloadOnHUP(ctx, logger, lv, func() (string, error) {
					c, err := server.LoadConfig(configPath)
					return c.LogLevel, err
				})
			})
			return sdnotify.Supervise(ctx, logger, s.Run)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "path to the coordinator's YAML configuration")
	return cmd
}
