package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/alba-lb/alba/internal/app"
)

func targetsCmd() *cobra.Command {
	var admin string
	cmd := &cobra.Command{
		Use:   "targets",
		Short: "Show every target's health state and reason, from a running Alba",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
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
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
