package main

import (
	"github.com/spf13/cobra"

	"github.com/understudy/understudy/coordinator/server"
	"github.com/understudy/understudy/pkg/command"
)

func newServeCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run a coordinator cluster member",
		Args:  command.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" {
				return command.Usagef("serve: --config is required")
			}
			cfg, err := server.LoadConfig(configPath)
			if err != nil {
				return command.Usage(err)
			}
			logger, lv, err := command.NewLogger(cfg.LogLevel)
			if err != nil {
				return command.Usage(err)
			}
			s, err := server.New(cfg, logger, server.WithVersion(version))
			if err != nil {
				return err
			}
			return command.Daemon(cmd.Context(), logger, lv, func() (string, error) {
				c, err := server.LoadConfig(configPath)
				return c.LogLevel, err
			}, s.Run)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "path to the coordinator's YAML configuration")
	return cmd
}
