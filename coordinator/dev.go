package main

import (
	"github.com/spf13/cobra"

	"github.com/understudy/understudy/coordinator/internal/devenv"
	"github.com/understudy/understudy/pkg/command"
)

func newDevCmd() *cobra.Command {
	var o devenv.Options
	var logLevel string
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a single-node coordinator with a primary and a standby agent on loopback, no config needed",
		Args:  command.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, _, err := command.NewLogger(logLevel)
			if err != nil {
				return command.Usage(err)
			}
			o.Logger, o.Out, o.Version = logger, cmd.OutOrStdout(), version
			return devenv.Run(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.HTTPAddr, "http-addr", "127.0.0.1:8500", "admin API listen address (port 0 picks one)")
	cmd.Flags().StringVar(&o.DNSAddr, "dns-addr", "127.0.0.1:8600", "DNS listen address, UDP and TCP (port 0 picks one)")
	cmd.Flags().StringVar(&o.DataDir, "data-dir", "", "keep data here instead of a temporary directory")
	cmd.Flags().StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error")
	return cmd
}
