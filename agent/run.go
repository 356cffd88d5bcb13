package main

import (
	"github.com/spf13/cobra"

	"github.com/understudy/understudy/agent/hostagent"
	"github.com/understudy/understudy/pkg/command"
)

func newRunCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Run the agent daemon",
		Args:  command.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" {
				return command.Usagef("run: --config is required")
			}
			cfg, err := hostagent.LoadConfig(configPath)
			if err != nil {
				return command.Usage(err)
			}
			logger, lv, err := command.NewLogger(cfg.LogLevel)
			if err != nil {
				return command.Usage(err)
			}
			a, err := hostagent.New(cfg, logger, hostagent.WithVersion(version))
			if err != nil {
				return err
			}
			return command.Daemon(cmd.Context(), logger, lv, func() (string, error) {
				c, err := hostagent.LoadConfig(configPath)
				return c.LogLevel, err
			}, a.Run)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "path to the agent's YAML configuration")
	return cmd
}
