package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/understudy/understudy/coordinator/internal/standby"
	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/pkg/command"
)

func printPools(f *adminFlags, cmd *cobra.Command, v any, pools []api.Pool) error {
	return f.output(cmd.OutOrStdout(), v, func(tw *tabwriter.Writer) {
		fmt.Fprintln(tw, "REGION\tFLOOR\tMAX\tTARGET\tRAISED\tACTIVE\tREADY\tBOOTING\tALLOCATED\tREQUESTS")
		for _, p := range pools {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%t\t%d\t%d\t%d\t%d\t%d\n", p.Region, p.Policy.StandbyFloor, p.Policy.MaxServers,
				p.Target, p.State.Raised, p.Active, p.Ready, p.Booting, len(p.Allocations), len(p.Requests))
		}
		if len(pools) != 1 {
			return
		}
		p := pools[0]
		if len(p.Requests) > 0 {
			fmt.Fprintln(tw, "\nREQUEST\tKIND\tCOUNT\tBOOTING\tANSWERED\tHOSTS\tSINCE")
			for _, r := range p.Requests {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%t\t%s\t%s\n", r.ID, r.Kind, r.Count, r.Booting, r.Answered,
					dash(strings.Join(r.Hosts, ",")), time.UnixMilli(r.At).UTC().Format(time.RFC3339))
			}
		}
		if len(p.Allocations) > 0 {
			fmt.Fprintln(tw, "\nALLOCATED\tADDRESS\tSERVICE\tID\tSINCE")
			for _, a := range p.Allocations {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Host, a.Address, dash(a.Service), a.ID,
					time.UnixMilli(a.At).UTC().Format(time.RFC3339))
			}
		}
	})
}

func newPoolGetCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{
		Use:   "get [REGION]",
		Short: "Show the standby pool of a region, or of every region",
		Long: `Shows a region's policy, the standby target, what the controller counts
(active: alive hosts with role active and allocated hosts; ready: alive,
unfenced standby hosts free to allocate; booting: servers asked of the
provisioner that have not joined), the open provisioner requests and the
allocated hosts.`,
		Args: command.ArgsUsage(cobra.RangeArgs(0, 1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if len(args) == 0 {
				ps, err := c.Pools(cmd.Context())
				if err != nil {
					return err
				}
				return printPools(&f, cmd, ps, ps)
			}
			p, err := c.Pool(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printPools(&f, cmd, p, []api.Pool{p})
		},
	}
	f.register(cmd, true)
	return cmd
}

func newPoolSetCmd() *cobra.Command {
	var f adminFlags
	var policyFile string
	cmd := &cobra.Command{
		Use:   "set REGION --policy FILE",
		Short: "Create a region's standby pool or replace its policy (admin token)",
		Long: `Reads a standby policy (YAML, the same file pool simulate takes; see
docs/standby.md), checks it, and makes it the region's policy. The
controller state, open provisioner requests and allocations are kept.`,
		Args: command.ArgsUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if policyFile == "" {
				return command.Usagef("--policy FILE is required")
			}
			fh, err := os.Open(policyFile)
			if err != nil {
				return command.Usagef("policy: %v", err)
			}
			p, err := standby.ParsePolicy(fh)
			fh.Close()
			if err != nil {
				return command.Usagef("%s: %v", policyFile, err)
			}
			doc, err := json.Marshal(p)
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			pool, err := c.SetPoolPolicy(cmd.Context(), args[0], doc)
			if err != nil {
				return err
			}
			return printPools(&f, cmd, pool, []api.Pool{pool})
		},
	}
	cmd.Flags().StringVar(&policyFile, "policy", "", "policy file (YAML)")
	f.register(cmd, true)
	return cmd
}

func newAllocateCmd() *cobra.Command {
	var f adminFlags
	var req api.AllocateRequest
	cmd := &cobra.Command{
		Use:   "allocate REGION [--service S]",
		Short: "Take one ready standby host of a region for use (admin token)",
		Long: `Atomically turns one ready standby host of REGION (alive, unfenced, not
allocated) into an allocated one and prints its name, address and ports.
With --service the host must carry an instance of that service, and the one
with the freshest mirrors wins. Fails (exit 1) when no standby is ready.
--id makes a retry return the same host.`,
		Args: command.ArgsUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			a, err := c.Allocate(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			return f.output(cmd.OutOrStdout(), a, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "HOST\tADDRESS\tPORTS\tID")
				var ports []string
				for _, p := range a.Ports {
					ports = append(ports, fmt.Sprintf("%s=%d", p.Service, p.Port))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Host, a.Address, dash(strings.Join(ports, ",")), a.ID)
			})
		},
	}
	cmd.Flags().StringVar(&req.Service, "service", "", "only hosts carrying this service")
	cmd.Flags().StringVar(&req.ID, "id", "", "allocation id, for safe retries (default: a new one)")
	f.register(cmd, true)
	return cmd
}

func newPoolDeallocateCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{
		Use:   "deallocate REGION HOST",
		Short: "Return an allocated host to its region's standby pool (admin token)",
		Long: `Marks HOST ready standby again. Run the host's cleanup first (stop the
game server, wipe its scratch data): the coordinators hand the host out again
at once.`,
		Args: command.ArgsUsage(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if err := c.Deallocate(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s returned to the %s pool\n", args[1], args[0])
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}
