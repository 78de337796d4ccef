package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/alba-lb/alba/internal/app"
)

func targetsCmd() *cobra.Command {
	var admin string
	var nodes bool
	cmd := &cobra.Command{
		Use:   "targets",
		Short: "Show every target's health state and reason, from a running Alba",
		Long: `Show every target's health state and reason as the node at --admin sees
it. In a cluster each node checks every target itself; --nodes shows every
node's view side by side, marking the targets the nodes disagree on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if nodes {
				return targetViews(cmd, admin)
			}
			var ts []app.TargetHealth
			if err := adminGet(admin, "/api/targets", &ts); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TARGET GROUP\tTARGET\tADDRESS\tZONE\tSTATE\tREASON\tDESCRIPTION")
			for _, t := range ts {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.TargetGroup, t.ID, t.Address, t.Zone, t.Health.State, dash(t.Health.Reason), dash(t.Health.Description))
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&admin, "admin", "127.0.0.1:9080", "admin address of the running Alba")
	cmd.Flags().BoolVar(&nodes, "nodes", false, "in a cluster, every node's view of every target")
	return cmd
}

func targetViews(cmd *cobra.Command, admin string) error {
	var v app.TargetViews
	if err := adminGet(admin, "/api/target-views", &v); err != nil {
		return err
	}
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TARGET\t"+strings.ToUpper(strings.Join(v.Nodes, "\t"))+"\tAGREE")
	for _, t := range v.Targets {
		row := []string{t.Target}
		for _, n := range v.Nodes {
			row = append(row, dash(t.States[n]))
		}
		agree := "yes"
		if !t.Agree {
			agree = "NO"
		}
		fmt.Fprintln(w, strings.Join(append(row, agree), "\t"))
	}
	return w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
