package main

import (
	"context"
	"sync"

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
			logger, lv, err := newLogger(cfg.LogLevel)
			if err != nil {
				return usageError{err}
			}
			a, err := hostagent.New(cfg, logger, hostagent.WithVersion(version))
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
					c, err := hostagent.LoadConfig(configPath)
					return c.LogLevel, err
				})
			})
			return sdnotify.Supervise(ctx, logger, a.Run)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "path to the agent's YAML configuration")
	return cmd
}
