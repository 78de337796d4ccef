package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

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
			client := &http.Client{Timeout: 5 * time.Second}
			resp, err := client.Get("http://" + admin + "/api/targets")
			if err != nil {
				return fmt.Errorf("cannot reach Alba's admin address %s (is `alba up` running?): %w", admin, err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("admin address %s answered %s", admin, resp.Status)
			}
			var ts []app.TargetHealth
			if err := json.NewDecoder(resp.Body).Decode(&ts); err != nil {
				return fmt.Errorf("unexpected answer from %s: %w", admin, err)
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
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + admin + "/api/target-views")
	if err != nil {
		return fmt.Errorf("cannot reach Alba's admin address %s (is `alba up` running?): %w", admin, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("admin address %s answered %s: %s", admin, resp.Status, strings.TrimSpace(string(msg)))
	}
	var v app.TargetViews
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return fmt.Errorf("unexpected answer from %s: %w", admin, err)
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
