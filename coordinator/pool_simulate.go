package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/understudy/understudy/coordinator/internal/standby"
	"github.com/understudy/understudy/pkg/command"
)

// newPoolSimulateCmd is `pool simulate`: the standby controller run against a
// demand or replay trace, with no cluster.
func newPoolSimulateCmd() *cobra.Command {
	var (
		policyFile, traceFile, svgFile string
		asCSV, asJSON                  bool
	)
	defaults := standby.DefaultSimConfig()
	cfg := defaults
	cmd := &cobra.Command{
		Use:   "simulate --policy FILE --trace FILE",
		Short: "Run the standby pool controller against a demand trace, with no cluster",
		Long: `Run the real standby pool controller against a trace, tick by tick.

A trace with the header t,allocate,deallocate gives demand per tick:
allocations take ready standby servers (those that find none are counted as
failed), deallocated servers return to standby, and requested servers become
ready after --provision-delay. A trace with the header t,active,standby replays
observed counts. t is a tick number or an offset such as 15m.

--csv prints t,active,standby,floor,target,failed,booting,requested,released,
fired,elapsed; --svg draws active, standby and target over time.`,
		Args: command.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if policyFile == "" || traceFile == "" {
				return command.Usagef("pool simulate: --policy and --trace are required")
			}
			if asCSV && asJSON {
				return command.Usagef("pool simulate: --csv and --json exclude each other")
			}
			if cfg.Tick <= 0 {
				return command.Usagef("pool simulate: --tick %s must be positive", cfg.Tick)
			}
			if cfg.ProvisionDelay < 0 {
				return command.Usagef("pool simulate: --provision-delay %s must not be negative", cfg.ProvisionDelay)
			}
			policy, err := readPolicyFile(policyFile)
			if err != nil {
				return err
			}
			trace, err := readTraceFile(traceFile, cfg.Tick)
			if err != nil {
				return err
			}
			res, err := standby.Simulate(policy, trace, cfg)
			if err != nil {
				return command.Usagef("pool simulate: %w", err)
			}
			if svgFile != "" {
				if err := writeSVGFile(svgFile, res); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			switch {
			case asCSV:
				return standby.WriteCSV(out, res.Samples)
			case asJSON:
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			default:
				return printSimulation(out, res, cfg)
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&policyFile, "policy", "", "standby pool policy `FILE` (YAML)")
	f.StringVar(&traceFile, "trace", "", "trace `FILE` (CSV: t,allocate,deallocate or t,active,standby)")
	f.DurationVar(&cfg.Tick, "tick", defaults.Tick, "controller period; trace t values count in it")
	f.DurationVar(&cfg.ProvisionDelay, "provision-delay", defaults.ProvisionDelay, "time for a requested server to become ready")
	f.BoolVar(&asCSV, "csv", false, "print one CSV row per tick")
	f.BoolVar(&asJSON, "json", false, "print the samples and summary as JSON")
	f.StringVar(&svgFile, "svg", "", "also draw the run as an SVG chart into `FILE`")
	return cmd
}

func readPolicyFile(name string) (standby.Policy, error) {
	f, err := os.Open(name)
	if err != nil {
		return standby.Policy{}, command.Usagef("pool simulate: %w", err)
	}
	defer f.Close()
	p, err := standby.ParsePolicy(f)
	if err != nil {
		return standby.Policy{}, command.Usagef("pool simulate: %s: %w", name, err)
	}
	return p, nil
}

func readTraceFile(name string, tick time.Duration) (standby.Trace, error) {
	f, err := os.Open(name)
	if err != nil {
		return standby.Trace{}, command.Usagef("pool simulate: %w", err)
	}
	defer f.Close()
	tr, err := standby.ParseTrace(f, tick)
	if err != nil {
		if errors.Is(err, standby.ErrInvalidTrace) {
			return standby.Trace{}, command.Usagef("pool simulate: %s: %w", name, err)
		}
		return standby.Trace{}, fmt.Errorf("pool simulate: %s: %w", name, err)
	}
	return tr, nil
}

func writeSVGFile(name string, res standby.Result) error {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("pool simulate: %w", err)
	}
	if err := standby.WriteSVG(f, res); err != nil {
		f.Close()
		return fmt.Errorf("pool simulate: write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("pool simulate: write %s: %w", name, err)
	}
	return nil
}

// printSimulation prints the readable table and a summary.
func printSimulation(w io.Writer, res standby.Result, cfg standby.SimConfig) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "time\tactive\tstandby\tbooting\ttarget\tfailed\trequested\treleased\tfired\t")
	for _, s := range res.Samples {
		fired := ""
		if s.Fired != 0 {
			fired = fmt.Sprintf("<%g%%", s.Fired)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n",
			s.Elapsed, s.Active, s.Standby, s.Booting, s.Target, s.Failed, s.Requested, s.Released, fired)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	sum := res.Summary
	p := res.Policy
	mode := "off"
	if p.DynamicStandby.Enabled {
		mode = "on"
	}
	_, err := fmt.Fprintf(w, "\n%s trace, %d ticks of %s, provision delay %s; floor %d, max %d, ramp-down %s, dynamic standby %s\n"+
		"allocations %d, failed %d; requested %d, released %d; peak target %d, peak servers %d; standby server-ticks %d\n",
		res.Kind, sum.Ticks, cfg.Tick, cfg.ProvisionDelay, p.StandbyFloor, p.MaxServers, p.RampDown, mode,
		sum.Allocations, sum.Failed, sum.Requested, sum.Released, sum.PeakTarget, sum.PeakServers, sum.StandbyTicks)
	return err
}
