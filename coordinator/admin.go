package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/pkg/command"
)

// defaultHTTPAddr is where admin commands look for a coordinator when
// neither --addr nor UNDERSTUDY_HTTP_ADDR says otherwise.
const defaultHTTPAddr = "127.0.0.1:8500"

// adminFlags are the flags shared by every admin subcommand.
type adminFlags struct {
	addr       string
	token      string
	tokenFile  string
	json       bool
	consistent bool
}

func (f *adminFlags) register(cmd *cobra.Command, printsData bool) {
	addr := os.Getenv("UNDERSTUDY_HTTP_ADDR")
	if addr == "" {
		addr = defaultHTTPAddr
	}
	cmd.Flags().StringVar(&f.addr, "addr", addr, "coordinator HTTP address (env UNDERSTUDY_HTTP_ADDR)")
	cmd.Flags().StringVar(&f.token, "token", "", "ACL token for writes")
	cmd.Flags().StringVar(&f.tokenFile, "token-file", "", "file holding the ACL token")
	if printsData {
		cmd.Flags().BoolVar(&f.json, "json", false, "print JSON")
	}
}

// registerConsistent adds --consistent to a command that reads the
// catalogue.
func (f *adminFlags) registerConsistent(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.consistent, "consistent", false,
		"have the leader confirm the read, so it reflects every acknowledged write")
}

// readOpts are the read options the flags ask for.
func (f *adminFlags) readOpts() []api.ReadOption {
	if f.consistent {
		return []api.ReadOption{api.Consistent()}
	}
	return nil
}

func (f *adminFlags) client() (*api.Client, error) {
	tok := f.token
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return nil, command.Usagef("token file: %v", err)
		}
		tok = strings.TrimSpace(string(b))
	}
	return api.NewClient(f.addr, tok), nil
}

// output prints v as JSON with --json, else calls table with a tabwriter.
func (f *adminFlags) output(w io.Writer, v any, table func(tw *tabwriter.Writer)) error {
	if f.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

func newMembersCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{
		Use:   "members",
		Short: "List the gossip pool: coordinators and agents with their state",
		Args:  command.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			ms, err := c.Members(cmd.Context())
			if err != nil {
				return err
			}
			return f.output(cmd.OutOrStdout(), ms, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "NAME\tADDRESS\tSTATE\tKIND\tREGION\tROLE\tVERSION")
				for _, m := range ms {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Addr, m.State, m.Kind, dash(m.Region), dash(m.Role), dash(m.Version))
				}
			})
		},
	}
	f.register(cmd, true)
	return cmd
}

func newPeersCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{
		Use:   "peers",
		Short: "List the coordinators' Raft configuration",
		Args:  command.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			ps, err := c.Peers(cmd.Context(), f.readOpts()...)
			if err != nil {
				return err
			}
			return f.output(cmd.OutOrStdout(), ps, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "ID\tADDRESS\tVOTER\tLEADER")
				for _, p := range ps {
					fmt.Fprintf(tw, "%s\t%s\t%t\t%t\n", p.ID, p.Address, p.Voter, p.Leader)
				}
			})
		},
	}
	f.register(cmd, true)
	f.registerConsistent(cmd)
	var rf adminFlags
	remove := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a dead coordinator from the Raft configuration (admin token)",
		Args:  command.ArgsUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			if err := c.RemovePeer(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", args[0])
			return nil
		},
	}
	rf.register(remove, false)
	cmd.AddCommand(remove)
	return cmd
}

func newHostsCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{
		Use:   "hosts",
		Short: "List the hosts in the catalogue",
		Args:  command.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			hs, err := c.Hosts(cmd.Context(), f.readOpts()...)
			if err != nil {
				return err
			}
			return f.output(cmd.OutOrStdout(), hs, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "NAME\tADDRESS\tREGION\tROLE\tSTATUS\tVERSION")
				for _, h := range hs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, h.Address, dash(h.Region), dash(h.Role), h.Status, dash(h.Version))
				}
			})
		},
	}
	f.register(cmd, true)
	f.registerConsistent(cmd)
	return cmd
}

func newServicesCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{
		Use:   "services",
		Short: "List services and their instances, primary first",
		Args:  command.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			ss, err := c.Services(cmd.Context(), f.readOpts()...)
			if err != nil {
				return err
			}
			return f.output(cmd.OutOrStdout(), ss, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "SERVICE\tEPOCH\tHOST\tPORT\tROLE\tHEALTH\tRUNNING\tTAGS")
				for _, s := range ss {
					for _, i := range s.Instances {
						role := "standby"
						switch {
						case i.Primary:
							role = "primary"
						case i.Fenced:
							role = "fenced"
						}
						fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\t%t\t%s\n", s.Name, s.Epoch, i.Host, i.Port, role, i.Health, i.Running, dash(strings.Join(i.Tags, ",")))
					}
				}
			})
		},
	}
	f.register(cmd, true)
	f.registerConsistent(cmd)
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
